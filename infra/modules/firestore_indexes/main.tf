# Reads a Firebase CLI firestore.indexes.json into maps for for_each. No resources and no
# providers, so tests evaluate it with `terraform console` offline.

variable "indexes_file" {
  description = "Path of firestore.indexes.json."
  type        = string
}

locals {
  document      = jsondecode(file(var.indexes_file))
  raw_indexes   = try(local.document.indexes, [])
  raw_overrides = try(local.document.fieldOverrides, [])

  indexes = {
    for index in local.raw_indexes :
    join("|", concat(
      [index.collectionGroup, try(index.queryScope, "COLLECTION")],
      [for field in index.fields : "${field.fieldPath}:${try(field.order, try(field.arrayConfig, ""))}"]
      )) => {
      collection  = index.collectionGroup
      query_scope = try(index.queryScope, "COLLECTION")
      fields = [
        for field in index.fields : {
          field_path   = field.fieldPath
          order        = try(field.order, null)
          array_config = try(field.arrayConfig, null)
        }
      ]
    }
  }

  field_overrides = {
    for override in local.raw_overrides :
    "${override.collectionGroup}|${override.fieldPath}" => {
      collection = override.collectionGroup
      field      = override.fieldPath
      ttl        = try(override.ttl, false)
      indexes = [
        for index in try(override.indexes, []) : {
          order        = try(index.order, null)
          array_config = try(index.arrayConfig, null)
          query_scope  = try(index.queryScope, "COLLECTION")
        }
      ]
    }
  }
}

output "indexes" {
  description = "Composite indexes keyed by collection|scope|field:order...: {collection, query_scope, fields}."
  value       = local.indexes
}

output "field_overrides" {
  description = "Field overrides keyed by collection|field: {collection, field, ttl, indexes}."
  value       = local.field_overrides
}
