# The sweep (shared/runs/sweep.py): Cloud Scheduler publishes a message with attribute
# kind=sweep to run-requests every few minutes; the worker then republishes async runs and
# batches whose creating request died before Pub/Sub had their messages. Each sweep with
# nothing to do costs two Firestore reads.

locals {
  scheduler_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
}

resource "google_cloud_scheduler_job" "run_sweep" {
  name        = "run-sweep"
  description = "Republish async runs and batches whose creating request died (shared/runs/sweep.py)"
  region      = var.region
  schedule    = "*/5 * * * *"
  time_zone   = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.topic["run_requests"].id
    data       = base64encode("{}")
    attributes = {
      kind = "sweep"
    }
  }

  depends_on = [google_project_service.enabled, google_pubsub_topic_iam_member.scheduler_publisher]
}

# Scheduler publishes as its service agent; granted on the one topic it feeds.
resource "google_pubsub_topic_iam_member" "scheduler_publisher" {
  topic      = google_pubsub_topic.topic["run_requests"].id
  role       = "roles/pubsub.publisher"
  member     = local.scheduler_service_agent
  depends_on = [google_project_service.enabled]
}
