# The five functions as Cloud Functions (2nd gen). Each runs as its own service account
# with the settings in local.functions (sizes explained there). HTTP functions accept
# traffic only from the load balancer; the worker only from Pub/Sub push (internal).

resource "google_cloudfunctions2_function" "function" {
  for_each = local.functions

  name        = each.key
  location    = var.region
  description = "agents service: ${each.key}"

  build_config {
    runtime           = "python311"
    entry_point       = each.value.entry_point
    service_account   = google_service_account.builder.id
    docker_repository = google_artifact_registry_repository.functions.id
    source {
      storage_source {
        bucket = google_storage_bucket.sources.name
        object = google_storage_bucket_object.function_source[each.key].name
      }
    }
  }

  service_config {
    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu
    max_instance_request_concurrency = each.value.concurrency
    timeout_seconds                  = each.value.timeout
    min_instance_count               = lookup(var.min_instances, each.key, each.value.min_instances)
    max_instance_count               = each.value.max_instances
    service_account_email            = google_service_account.function[each.key].email
    all_traffic_on_latest_revision   = true
    ingress_settings                 = each.value.http ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"

    # functions-framework serves with gunicorn threads = 4 x the vCPUs unless THREADS is set;
    # a request beyond them queues inside the instance, so the concurrency above would be a
    # fiction (Google: "set THREADS equal to the concurrency value" for Python).
    environment_variables = merge(
      local.common_env,
      { THREADS = tostring(each.value.concurrency) },
      each.value.workspace ? { WORKSPACE_ROOT = local.workspace_mount_path } : {},
    )

    # Pinned to a numeric version: env secrets resolve when an instance starts.
    dynamic "secret_environment_variables" {
      for_each = each.value.verify_tokens ? [local.jwt_secret_id] : []
      content {
        key        = "JWT_SECRET"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = google_secret_manager_secret_version.jwt_signing_key.version
      }
    }
  }

  depends_on = [
    google_project_iam_member.builder_logs,
    google_project_iam_member.builder_reads_function_sources,
    google_artifact_registry_repository_iam_member.builder_pushes_images,
    google_storage_bucket_iam_member.builder_reads_sources,
    google_secret_manager_secret_iam_member.jwt_accessor,
    google_project_iam_member.firestore_user,
  ]
}

# The API authenticates every request itself (access tokens, Firebase ID tokens), so the
# HTTP functions admit unauthenticated invocations; their ingress setting still limits
# them to the load balancer.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  # checkov:skip=CKV_GCP_102:ingress ALLOW_INTERNAL_AND_GCLB admits only the load balancer (Cloud Armor in front), which cannot mint ID tokens for a serverless NEG; the API authenticates every request itself
  for_each = local.http_functions

  location = var.region
  service  = google_cloudfunctions2_function.function[each.key].name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# google_cloudfunctions2_function cannot declare volumes (terraform-provider-google #17767),
# so the workspace bucket is attached to the function's Cloud Run service by
# tools/deploy.py (idempotent; also run by Cloud Build after each deploy), again whenever
# the function is redeployed, since a deployment through Cloud Functions replaces the
# service's revision template.
resource "terraform_data" "workspace_volume" {
  for_each = local.workspace_functions

  triggers_replace = [
    google_cloudfunctions2_function.function[each.key].update_time,
    google_storage_bucket.workspace.name,
    local.workspace_mount_path,
  ]

  provisioner "local-exec" {
    working_dir = "${path.module}/.."
    command     = "python3 -m tools.deploy attach-workspace ${each.key} --project=${var.project_id} --region=${var.region} --bucket=${google_storage_bucket.workspace.name} --mount-path=${local.workspace_mount_path}"
  }

  depends_on = [google_storage_bucket_iam_member.workspace_user]
}

# Startup CPU boost for the functions without a workspace (terraform_data.workspace_volume
# sets it for the others, in the same revision as the volume). Re-applied after every
# change to the function, whose deployment replaces the revision template.
resource "terraform_data" "startup_cpu_boost" {
  for_each = { for name, fn in local.functions : name => fn if !fn.workspace }

  triggers_replace = [google_cloudfunctions2_function.function[each.key].update_time]

  provisioner "local-exec" {
    working_dir = "${path.module}/.."
    command     = "python3 -m tools.deploy cpu-boost ${each.key} --project=${var.project_id} --region=${var.region}"
  }
}
