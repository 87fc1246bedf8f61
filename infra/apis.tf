locals {
  services = toset([
    "aiplatform.googleapis.com",       # Gemini and Claude on Vertex AI
    "artifactregistry.googleapis.com", # images built from the function sources
    "cloudbuild.googleapis.com",       # builds the functions; runs cloudbuild.yaml
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com", # the sweep (scheduler.tf)
    "compute.googleapis.com",        # the HTTPS load balancer
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",  # OIDC tokens for the Pub/Sub push subscription
    "identitytoolkit.googleapis.com", # Firebase Auth ID tokens
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com", # gen2 functions run as Cloud Run services
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value
  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}
