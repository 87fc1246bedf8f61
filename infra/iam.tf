# One service account per function, each granted only what its code does. Resource-level
# grants (a topic, a secret, a bucket) wherever the API allows them.

resource "google_service_account" "function" {
  for_each = local.functions

  account_id   = "fn-${each.key}"
  display_name = "agents service: ${each.key} function"
  depends_on   = [google_project_service.enabled]
}

# Builds the function images (instead of the project's default compute account).
resource "google_service_account" "builder" {
  account_id   = "fn-builder"
  display_name = "agents service: function builds"
  depends_on   = [google_project_service.enabled]
}

# Signs the OIDC tokens Pub/Sub sends with each push to the worker.
resource "google_service_account" "worker_invoker" {
  account_id   = "run-requests-push"
  display_name = "agents service: Pub/Sub push to the worker"
  depends_on   = [google_project_service.enabled]
}

# Every function reads and writes Firestore (through shared/db.py).
resource "google_project_iam_member" "firestore_user" {
  for_each = local.functions

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function[each.key].member
}

# Firebase ID tokens are verified with check_revoked=True, which reads the user record.
resource "google_project_iam_member" "firebase_auth_viewer" {
  for_each = { for name, fn in local.functions : name => fn if fn.verify_tokens }

  project = var.project_id
  role    = "roles/firebaseauth.viewer"
  member  = google_service_account.function[each.key].member
}

# Model calls to Gemini and Claude on Vertex AI (sync/stream runs and the worker).
resource "google_project_iam_member" "vertex_user" {
  for_each = { for name, fn in local.functions : name => fn if fn.vertex }

  project = var.project_id
  role    = "roles/aiplatform.user"
  member  = google_service_account.function[each.key].member
}

locals {
  topic_publishers = merge([
    for name, fn in local.functions : {
      for topic in fn.publishes_to : "${name}:${topic}" => { function = name, topic = topic }
    }
  ]...)
  topic_readers = merge([
    for name, fn in local.functions : {
      for topic in fn.reads_topics : "${name}:${topic}" => { function = name, topic = topic }
    }
  ]...)
}

resource "google_pubsub_topic_iam_member" "function_publisher" {
  for_each = local.topic_publishers

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.publisher"
  member = google_service_account.function[each.value.function].member
}

# pubsub.topics.get (the health check's probe) is not part of roles/pubsub.publisher.
resource "google_pubsub_topic_iam_member" "function_viewer" {
  for_each = local.topic_readers

  topic  = google_pubsub_topic.topic[each.value.topic].id
  role   = "roles/pubsub.viewer"
  member = google_service_account.function[each.value.function].member
}

# Read/write user files through the Cloud Storage FUSE mount.
resource "google_storage_bucket_iam_member" "workspace_user" {
  for_each = local.workspace_functions

  bucket = google_storage_bucket.workspace.name
  role   = "roles/storage.objectUser"
  member = google_service_account.function[each.key].member
}

resource "google_project_iam_member" "builder" {
  for_each = toset([
    "roles/cloudbuild.builds.builder",
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.builder.member
}

resource "google_storage_bucket_iam_member" "builder_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.builder.member
}

# Cloud Build runs cloudbuild.yaml as this account: it redeploys the functions' code and
# uploads the OpenAPI document, nothing more (Terraform owns everything else).
resource "google_service_account" "deployer" {
  account_id   = "cloud-deployer"
  display_name = "agents service: Cloud Build deployments"
  depends_on   = [google_project_service.enabled]
}

resource "google_project_iam_member" "deployer" {
  for_each = toset([
    "roles/cloudfunctions.developer",
    "roles/run.developer", # attaches the workspace volume (tools/deploy.py attach-workspace)
    "roles/logging.logWriter",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.deployer.member
}

# Deploying a function "acts as" its runtime and build service accounts.
resource "google_service_account_iam_member" "deployer_acts_as" {
  for_each = merge(
    { for name, sa in google_service_account.function : name => sa.name },
    { builder = google_service_account.builder.name },
  )

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

resource "google_storage_bucket_iam_member" "deployer_uploads" {
  for_each = {
    sources = google_storage_bucket.sources.name
    static  = google_storage_bucket.static.name
  }

  bucket = each.value
  role   = "roles/storage.objectAdmin"
  member = google_service_account.deployer.member
}
