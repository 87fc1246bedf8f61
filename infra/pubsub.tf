# Async runs: runs (and trusted publishers) -> run-requests -> push subscription -> worker.
# Finished runs -> run-results. Undeliverable run requests -> run-requests-dead-letter.

locals {
  pubsub_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "topic" {
  # checkov:skip=CKV_GCP_83:Google-managed encryption at rest, as for Firestore, which holds the same run data; customer-managed keys would be a project-wide choice (docs/security.md)
  for_each = local.topics

  name = each.value
  # Retained so a consumer that was down can seek back (run-results) or replay (requests).
  message_retention_duration = "86400s"
  depends_on                 = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "worker_push" {
  name  = local.subscriptions.worker_push
  topic = google_pubsub_topic.topic["run_requests"].id

  # Above the worker's timeout, so a delivery is never retried while it still runs.
  ack_deadline_seconds = local.run_ack_deadline_seconds
  # Async runs of one session carry the session id as ordering key and run in order.
  enable_message_ordering = true
  # A request older than RUN_MESSAGE_MAX_AGE_SECONDS (24 h) is dropped unexecuted.
  message_retention_duration = "86400s"

  push_config {
    # The path names the topic: functions-framework builds the CloudEvent's source from it.
    push_endpoint = "${google_cloudfunctions2_function.function["worker"].service_config[0].uri}/projects/${var.project_id}/topics/${local.topics.run_requests}"
    oidc_token {
      service_account_email = google_service_account.worker_invoker.email
      audience              = google_cloudfunctions2_function.function["worker"].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.topic["dead_letter"].id
    max_delivery_attempts = var.run_max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # never expires for inactivity
  }

  depends_on = [
    google_cloud_run_service_iam_member.worker_invoker,
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Pull subscriptions so nothing published is lost before someone reads it.
resource "google_pubsub_subscription" "results_tap" {
  name                       = local.subscriptions.results_tap
  topic                      = google_pubsub_topic.topic["run_results"].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "dead_letter" {
  name                       = local.subscriptions.dead_letter
  topic                      = google_pubsub_topic.topic["dead_letter"].id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

# The Pub/Sub service agent forwards dead letters and acknowledges them on the source
# subscription, and mints the push subscription's OIDC tokens.
resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  topic  = google_pubsub_topic.topic["dead_letter"].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_source_subscriber" {
  subscription = google_pubsub_subscription.worker_push.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.worker_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# The push identity may invoke the worker and nothing else.
resource "google_cloud_run_service_iam_member" "worker_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.function["worker"].name
  role     = "roles/run.invoker"
  member   = google_service_account.worker_invoker.member
}
