# Packaged function sources (tools/package.py). Objects are content-addressed, so a
# function is rebuilt only when its zip changes; old objects expire after 30 days.
resource "google_storage_bucket" "sources" {
  name                        = "${var.project_id}-function-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  # Objects are content-addressed and written with --no-clobber, so a version history would
  # only ever hold the one version each object has.
  # checkov:skip=CKV_GCP_78:content-addressed objects are never overwritten; nothing to version

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "function-sources/"
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.enabled]
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.functions

  # Same name as tools/package.PackagedFunction.source_object (Cloud Build uploads there).
  name   = "functions/${each.key}-${filemd5("${local.build_dir}/functions/${each.key}.zip")}.zip"
  bucket = google_storage_bucket.sources.name
  source = "${local.build_dir}/functions/${each.key}.zip"
}

# Users' workspaces (WORKSPACE_ROOT/<user id>/...), mounted with Cloud Storage FUSE.
resource "google_storage_bucket" "workspace" {
  name                        = "${var.project_id}-workspaces"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = !var.deletion_protection

  # Overwritten and deleted files stay recoverable for a week (soft delete). Object
  # versioning would keep every intermediate write of the FUSE mount, billed for ever.
  # checkov:skip=CKV_GCP_78:soft delete (7 days) recovers overwritten and deleted files
  soft_delete_policy {
    retention_duration_seconds = 7 * 24 * 3600
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "workspaces/"
  }
  depends_on = [google_project_service.enabled]
}

# Public static content behind the load balancer: /openapi.json and the web console.
resource "google_storage_bucket" "static" {
  # checkov:skip=CKV_GCP_114:the load balancer serves these files to anyone; public reads are the point
  name                        = "${var.project_id}-api-static"
  location                    = var.region
  uniform_bucket_level_access = true
  force_destroy               = true

  website {
    main_page_suffix = "index.html"
  }

  # A bad or tampered upload of the console can be rolled back to the previous object.
  versioning {
    enabled = true
  }
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
    }
    action {
      type = "Delete"
    }
  }

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "static/"
  }
  depends_on = [google_project_service.enabled]
}

# Anyone may read an object by its name, nobody may list the bucket:
# roles/storage.legacyObjectReader is storage.objects.get alone, where objectViewer would
# add storage.objects.list.
resource "google_storage_bucket_iam_member" "static_public" {
  # checkov:skip=CKV_GCP_28:public read of the console and openapi.json by object name only (no list)
  bucket = google_storage_bucket.static.name
  role   = "roles/storage.legacyObjectReader"
  member = "allUsers"
}

# Releases the unprivileged build uploads (releases/<commit>/functions/*.zip, openapi.json)
# and the deploy build deploys.
resource "google_storage_bucket" "build_artifacts" {
  # checkov:skip=CKV_GCP_78:release objects are created once by cloud-ci, which cannot overwrite or delete them
  name                        = "${var.project_id}-build-artifacts"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  logging {
    log_bucket        = google_storage_bucket.access_logs.name
    log_object_prefix = "build-artifacts/"
  }

  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.enabled]
}

# Usage logs of the buckets above (who read or wrote which object), kept 90 days.
resource "google_storage_bucket" "access_logs" {
  # checkov:skip=CKV_GCP_62:this is the access-log bucket; logging it into itself would loop
  # checkov:skip=CKV_GCP_78:log objects are written once by Cloud Storage and never overwritten
  name                        = "${var.project_id}-access-logs"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  lifecycle_rule {
    condition {
      age = 90
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.enabled]
}

# Cloud Storage writes usage logs as this Google group (storage usage logs documentation).
resource "google_storage_bucket_iam_member" "access_logs_writer" {
  bucket = google_storage_bucket.access_logs.name
  role   = "roles/storage.objectCreator"
  member = "group:cloud-storage-analytics@google.com"
}

locals {
  build_dir   = abspath("${path.module}/${var.build_dir}")
  web_root    = abspath("${path.module}/../client/web")
  web_files   = fileset(local.web_root, "**")
  web_headers = { html = "text/html; charset=utf-8", js = "text/javascript; charset=utf-8", css = "text/css; charset=utf-8", json = "application/json", svg = "image/svg+xml", png = "image/png", ico = "image/x-icon" }
}

# Generated by tools/package.py from the routers' declarations (tools.functions.openapi_document).
resource "google_storage_bucket_object" "openapi" {
  name          = "openapi.json"
  bucket        = google_storage_bucket.static.name
  source        = "${local.build_dir}/openapi.json"
  content_type  = "application/json"
  cache_control = "no-cache"
}

resource "google_storage_bucket_object" "web" {
  for_each = local.web_files

  name          = each.value
  bucket        = google_storage_bucket.static.name
  source        = "${local.web_root}/${each.value}"
  content_type  = lookup(local.web_headers, reverse(split(".", each.value))[0], "application/octet-stream")
  cache_control = "no-cache"
}
