variable "project_id" {
  description = "The Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, buckets, Pub/Sub, the serverless NEGs and the Firestore database."
  type        = string
  default     = "us-central1"
}

variable "firestore_location" {
  description = "Firestore location (a region or multi-region such as nam5); defaults to var.region."
  type        = string
  default     = ""
}

variable "vertex_region" {
  description = "Vertex AI location for Gemini models (VERTEX_LOCATION)."
  type        = string
  default     = "us-central1"
}

variable "anthropic_vertex_region" {
  description = "Vertex AI region serving Claude models (ANTHROPIC_VERTEX_REGION)."
  type        = string
  default     = "us-east5"
}

variable "domain" {
  description = "Hostname of the public entry point. Empty: <load balancer IP>.nip.io, which resolves to the IP without any DNS setup."
  type        = string
  default     = ""
}

variable "cors_allowed_origins" {
  description = "Comma-separated browser origins allowed to call the API (CORS_ALLOWED_ORIGINS)."
  type        = string
  default     = ""
}

variable "build_dir" {
  description = "Output of `make package` (tools/package.py): functions/<name>.zip and openapi.json."
  type        = string
  default     = "../build"
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"
}

variable "run_max_delivery_attempts" {
  description = "Deliveries of a run request before it goes to the dead-letter topic (5-100)."
  type        = number
  default     = 5

  validation {
    condition     = var.run_max_delivery_attempts >= 5 && var.run_max_delivery_attempts <= 100
    error_message = "Pub/Sub accepts 5 to 100 delivery attempts."
  }
}

variable "deletion_protection" {
  description = "Protect the Firestore database and the workspace bucket from `terraform destroy`."
  type        = bool
  default     = true
}

variable "min_instances" {
  description = <<-EOT
    Warm instances per function, overriding the defaults in local.functions (auth 1, runs 1,
    the others 0). A warm instance answers the first request without a cold start
    (bench/RESULTS.md, "First request after a cold start") and is billed while idle;
    e.g. { worker = 1 } for async runs that must start at once.
  EOT
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for name, count in var.min_instances : contains(["auth", "agents", "runs", "marketplace", "worker"], name) && count >= 0])
    error_message = "Keys are function names (auth, agents, runs, marketplace, worker); counts are >= 0."
  }
}
