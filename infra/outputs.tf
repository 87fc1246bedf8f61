output "base_url" {
  description = "The public API (and web console) base URL; HTTPS works once the certificate is ACTIVE."
  value       = "https://${local.api_host}"
}

output "load_balancer_ip" {
  description = "Point var.domain's A record here when using your own domain."
  value       = google_compute_global_address.api.address
}

output "certificate" {
  description = "gcloud compute ssl-certificates describe <this> --global shows provisioning status."
  value       = google_compute_managed_ssl_certificate.api.name
}

output "function_urls" {
  description = "Direct function URLs (reachable only through the load balancer / Pub/Sub)."
  value       = { for name, fn in google_cloudfunctions2_function.function : name => fn.service_config[0].uri }
}

output "service_accounts" {
  description = "The service account each function runs as."
  value       = { for name, sa in google_service_account.function : name => sa.email }
}

output "buckets" {
  description = "Function sources (Cloud Build uploads here), user workspaces, static content."
  value = {
    sources   = google_storage_bucket.sources.name
    workspace = google_storage_bucket.workspace.name
    static    = google_storage_bucket.static.name
    releases  = google_storage_bucket.build_artifacts.name
  }
}

output "region" {
  description = "Region of the functions (Cloud Build's _REGION)."
  value       = var.region
}

output "deployer_service_account" {
  description = "Cloud Build runs cloudbuild.deploy.yaml (the deploy build) as this account."
  value       = google_service_account.deployer.email
}

output "ci_service_account" {
  description = "Cloud Build runs cloudbuild.yaml (lint, tests, packaging; no deployment rights) as this account."
  value       = google_service_account.ci.email
}
