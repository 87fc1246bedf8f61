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

# The key ring sealing users' MCP server credentials (shared/mcp_servers/crypto.py): AES-256
# keys, base64, comma-separated, the first one encrypting. Read at run time (lazily, cached
# per instance) by the functions that store or use MCP credentials. Rotate: add a version
# whose value is "<new key>,<old keys>" (credentials re-seal as they are written again).
# docs/api-decisions/mcp-servers.md says why Secret Manager and not Cloud KMS.
locals {
  mcp_credential_keys_id = "mcp-credential-keys" # shared/settings.py: MCP_CREDENTIAL_KEYS_NAME default
  mcp_functions          = toset(["agents", "runs", "worker"])
}

resource "random_bytes" "mcp_credential_key" {
  length = 32
}

resource "google_secret_manager_secret" "mcp_credential_keys" {
  secret_id = local.mcp_credential_keys_id

  replication {
    auto {}
  }
  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "mcp_credential_keys" {
  secret      = google_secret_manager_secret.mcp_credential_keys.id
  secret_data = random_bytes.mcp_credential_key.base64
}

# The functions that run agents (runs, worker) or store
# credentials (agents); never auth, marketplace or the dispatcher.
resource "google_secret_manager_secret_iam_member" "mcp_credential_keys_accessor" {
  for_each = local.mcp_functions

  secret_id = google_secret_manager_secret.mcp_credential_keys.id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function[each.key].member
}
