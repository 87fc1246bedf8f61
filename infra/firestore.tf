resource "google_firestore_database" "main" {
  name        = "(default)"
  location_id = var.firestore_location != "" ? var.firestore_location : var.region
  type        = "FIRESTORE_NATIVE"

  # Reads as of any minute in the last 7 days: recovers data a bad release damaged.
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"

  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy         = "DELETE"
  depends_on              = [google_project_service.enabled]
}

# Composite indexes and field overrides come from firestore.indexes.json (the Firebase CLI
# format, where each area appends the indexes its queries need), so the two never disagree.
module "firestore_indexes" {
  source       = "./modules/firestore_indexes"
  indexes_file = "${path.module}/firestore.indexes.json"
}

resource "google_firestore_index" "composite" {
  for_each = module.firestore_indexes.indexes

  database    = google_firestore_database.main.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path   = fields.value.field_path
      order        = fields.value.order
      array_config = fields.value.array_config
    }
  }
}

# TTL policies (expired login throttles, idempotency records, rate-limit windows are
# deleted by Firestore) and single-field index exemptions.
resource "google_firestore_field" "override" {
  for_each = module.firestore_indexes.field_overrides

  database   = google_firestore_database.main.name
  collection = each.value.collection
  field      = each.value.field

  dynamic "ttl_config" {
    for_each = each.value.ttl ? [true] : []
    content {}
  }

  # No entries: the field is not indexed at all (TTL timestamps would only hotspot).
  index_config {
    dynamic "indexes" {
      for_each = each.value.indexes
      content {
        order        = indexes.value.order
        array_config = indexes.value.array_config
        query_scope  = indexes.value.query_scope
      }
    }
  }
}
