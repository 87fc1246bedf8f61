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

# Where the function images go (build_config.docker_repository), the only repository the
# builder may write to. Images older than 30 days are deleted; the ten newest stay for rollbacks.
resource "google_artifact_registry_repository" "functions" {
  # checkov:skip=CKV_GCP_84:Google-managed encryption at rest; the images hold only the open function code built from this repository
  location      = var.region
  repository_id = "function-images"
  description   = "agents service: images built from the function sources"
  format        = "DOCKER"

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
  depends_on = [google_project_service.enabled]
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

# The function builds (Cloud Functions runs them as fn-builder) fetch the source archive
# Cloud Functions copied into its gcf-v2-sources-<number>-<region> bucket, push the image to
# the one repository below and write build logs: nothing else. (roles/cloudbuild.builds.builder
# would let every build write any bucket of the project, the Terraform state and the public
# console's files included.) tests/test_deploy.py checks a packaged deploy plan against these.
resource "google_project_iam_member" "builder_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.builder.member
}

# Google creates that bucket on the first deployment, so the grant is a project-level
# objectViewer narrowed by an IAM condition to objects in it (a bucket grant would need the
# bucket to exist before the first apply).
resource "google_project_iam_member" "builder_reads_function_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = google_service_account.builder.member

  condition {
    title       = "function-sources-only"
    description = "Only the source archives Cloud Functions stages for this region's builds."
    expression  = "resource.name.startsWith('projects/_/buckets/${local.function_staging_bucket}/')"
  }
}

resource "google_artifact_registry_repository_iam_member" "builder_pushes_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.builder.member
}

resource "google_storage_bucket_iam_member" "builder_reads_sources" {
  bucket = google_storage_bucket.sources.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.builder.member
}

# The unprivileged build (cloudbuild.yaml: install from the lock files, lint, tests,
# packaging) runs as this account. It may write its logs and create release objects in the
# build-artifacts bucket (objectCreator cannot overwrite or delete), nothing else.
resource "google_service_account" "ci" {
  account_id   = "cloud-ci"
  display_name = "agents service: Cloud Build lint, tests and packaging"
  depends_on   = [google_project_service.enabled]
}

resource "google_project_iam_member" "ci_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.ci.member
}

resource "google_storage_bucket_iam_member" "ci_uploads_releases" {
  bucket = google_storage_bucket.build_artifacts.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.ci.member
}

# The deploy build (cloudbuild.deploy.yaml) runs as this account: it reads a release the
# unprivileged build uploaded, redeploys the functions' code from it and uploads the OpenAPI
# document, nothing more (Terraform owns everything else). It installs and runs no
# third-party code.
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

resource "google_storage_bucket_iam_member" "deployer_reads_releases" {
  bucket = google_storage_bucket.build_artifacts.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.deployer.member
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
