# Webhooks and schedules (shared/dispatcher.py). The dispatcher function is pushed by four
# subscriptions, each naming its topic in the push path (functions-framework builds the
# CloudEvent's source from it):
#   run-results                     -> webhook events, batch.completed, schedule failure counts
#   webhook-deliveries              -> one attempt per message; a refused push is retried with
#                                      exponential backoff 10 s .. 600 s, then dead-lettered
#   webhook-deliveries-dead-letter  -> another round while the delivery is inside
#                                      WEBHOOK_RETRY_WINDOW_SECONDS (3 days), else failed
#   schedule-ticks                  -> start due schedules (Cloud Scheduler, every minute)

resource "google_service_account" "dispatcher_invoker" {
  account_id   = "dispatcher-push"
  display_name = "agents service: Pub/Sub push to the dispatcher"
  depends_on   = [google_project_service.enabled]
}

resource "google_cloud_run_service_iam_member" "dispatcher_invoker" {
  location = var.region
  service  = google_cloudfunctions2_function.function["dispatcher"].name
  role     = "roles/run.invoker"
  member   = google_service_account.dispatcher_invoker.member
}

resource "google_service_account_iam_member" "pubsub_mints_dispatcher_tokens" {
  service_account_id = google_service_account.dispatcher_invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

resource "google_pubsub_subscription" "dispatcher_push" {
  for_each = toset(local.dispatcher_topics)

  name                 = "${local.topics[each.key]}-dispatcher-push"
  topic                = google_pubsub_topic.topic[each.key].id
  ack_deadline_seconds = local.dispatcher_ack_deadline_seconds
  # Kept a week: deliveries retry for up to 3 days per round start.
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.function["dispatcher"].service_config[0].uri}/projects/${var.project_id}/topics/${local.topics[each.key]}"
    oidc_token {
      service_account_email = google_service_account.dispatcher_invoker.email
      audience              = google_cloudfunctions2_function.function["dispatcher"].service_config[0].uri
    }
  }

  # Exponential backoff between redeliveries of a refused push.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  # Only webhook deliveries are dead-lettered: 100 attempts at 10 s .. 600 s cover ~16 h per
  # round; the dead-letter subscription starts the next round (sender.dead_lettered).
  dynamic "dead_letter_policy" {
    for_each = each.key == "webhook_deliveries" ? [1] : []
    content {
      dead_letter_topic     = google_pubsub_topic.topic["webhook_dead_letter"].id
      max_delivery_attempts = 100
    }
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_service_iam_member.dispatcher_invoker,
    google_pubsub_topic_iam_member.webhook_dead_letter_publisher,
  ]
}

resource "google_pubsub_topic_iam_member" "webhook_dead_letter_publisher" {
  topic  = google_pubsub_topic.topic["webhook_dead_letter"].id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "webhook_dead_letter_source_subscriber" {
  subscription = google_pubsub_subscription.dispatcher_push["webhook_deliveries"].id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# One job for every user's schedules: each minute the dispatcher finds the due ones with one
# indexed query (shared/schedules/tick.py).
resource "google_cloud_scheduler_job" "schedule_tick" {
  name        = "schedule-tick"
  description = "Start due schedules (shared/schedules/tick.py)"
  region      = var.region
  schedule    = "* * * * *"
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["schedule_ticks"].id
    data       = base64encode("{}")
    attributes = {
      kind = "schedule_tick"
    }
  }

  depends_on = [google_project_service.enabled, google_pubsub_topic_iam_member.scheduler_tick_publisher]
}

resource "google_pubsub_topic_iam_member" "scheduler_tick_publisher" {
  topic      = google_pubsub_topic.topic["schedule_ticks"].id
  role       = "roles/pubsub.publisher"
  member     = local.scheduler_service_agent
  depends_on = [google_project_service.enabled]
}
