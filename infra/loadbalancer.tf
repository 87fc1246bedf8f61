# One public HTTPS entry point: a global external Application Load Balancer routing by path
# (local.routes, API.md) to a serverless NEG per HTTP function. /openapi.json and the web
# console's files come from the static bucket; any other path goes to a function, whose
# router answers it with the API's JSON 404 (route_not_found).

resource "google_compute_global_address" "api" {
  name       = "agents-api"
  depends_on = [google_project_service.enabled]
}

locals {
  static_paths      = concat(["/", "/openapi.json"], [for file in sort(tolist(local.web_files)) : "/${file}"])
  fallback_function = "marketplace"

  # Without a domain of your own, nip.io resolves <ip>.nip.io to <ip>, which is enough for
  # a Google-managed certificate.
  api_host = var.domain != "" ? var.domain : "${google_compute_global_address.api.address}.nip.io"
}

resource "google_compute_region_network_endpoint_group" "function" {
  for_each = local.http_functions

  name                  = "agents-${each.key}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    # A 2nd gen function is served by the Cloud Run service of the same name.
    service = google_cloudfunctions2_function.function[each.key].name
  }
}

resource "google_compute_backend_service" "function" {
  for_each = local.http_functions

  name                  = "agents-${each.key}"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  protocol              = "HTTPS"
  security_policy       = google_compute_security_policy.api.id # infra/edge.tf

  backend {
    group = google_compute_region_network_endpoint_group.function[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_backend_bucket" "static" {
  name        = "agents-static"
  bucket_name = google_storage_bucket.static.name
  enable_cdn  = false
}

resource "google_compute_url_map" "api" {
  name            = "agents-api"
  default_service = google_compute_backend_service.function[local.fallback_function].id

  host_rule {
    hosts        = ["*"]
    path_matcher = "api"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.function[local.fallback_function].id

    path_rule {
      paths   = local.static_paths
      service = google_compute_backend_bucket.static.id
    }

    dynamic "path_rule" {
      for_each = local.routes
      content {
        paths   = flatten([for prefix in path_rule.value : [prefix, "${prefix}/*"]])
        service = google_compute_backend_service.function[path_rule.key].id
      }
    }
  }
}

resource "google_compute_managed_ssl_certificate" "api" {
  name = "agents-api-${substr(sha1(local.api_host), 0, 8)}"
  managed {
    domains = [local.api_host]
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_target_https_proxy" "api" {
  name             = "agents-api"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
  ssl_policy       = google_compute_ssl_policy.api.id # infra/edge.tf
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "agents-api-https"
  target                = google_compute_target_https_proxy.api.id
  ip_address            = google_compute_global_address.api.id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

# Plain HTTP only redirects to HTTPS.
resource "google_compute_url_map" "https_redirect" {
  name = "agents-api-redirect"
  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "redirect" {
  name    = "agents-api-redirect"
  url_map = google_compute_url_map.https_redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  name                  = "agents-api-http"
  target                = google_compute_target_http_proxy.redirect.id
  ip_address            = google_compute_global_address.api.id
  port_range            = "80"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}
