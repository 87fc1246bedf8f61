# The access-token signing key (shared/auth/tokens.py). Generated here, stored only in
# Secret Manager (and the Terraform state, which lives in a private, versioned bucket).
# Rotate: `terraform apply -replace=random_password.jwt_signing_key` (access tokens live
# 15 minutes; refresh tokens are opaque and survive the rotation).

locals {
  jwt_secret_id = "jwt-signing-key" # shared/settings.py: JWT_SECRET_NAME default
}

resource "random_password" "jwt_signing_key" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "jwt_signing_key" {
  secret_id = local.jwt_secret_id

  replication {
    auto {}
  }
  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "jwt_signing_key" {
  secret      = google_secret_manager_secret.jwt_signing_key.id
  secret_data = random_password.jwt_signing_key.result
}

# Only the functions that issue or verify access tokens may read it (not the worker).
resource "google_secret_manager_secret_iam_member" "jwt_accessor" {
  for_each = { for name, fn in local.functions : name => fn if fn.verify_tokens }

  secret_id = google_secret_manager_secret.jwt_signing_key.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
}
