# The service's shape in one place: which functions exist, how each is sized, and which
# paths the load balancer routes to it. tests/test_deploy.py checks these tables against
# tools/functions.py, the routers in functions/*/main.py and shared/settings.py.

data "google_project" "current" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.current.number

  # Cloud Functions copies each deployment's source archive here; its builds read it.
  function_staging_bucket = "gcf-v2-sources-${local.project_number}-${var.region}"

  # Where the workspace bucket is mounted (Cloud Storage FUSE) in the functions whose file
  # tools and /workspace API read and write user files; tools/deploy.py uses the same path.
  workspace_mount_path = "/mnt/workspace"

  # Pub/Sub names: the defaults of shared/settings.py and tools/localstack.Topology.
  topics = {
    run_requests        = "run-requests"
    run_results         = "run-results"
    dead_letter         = "run-requests-dead-letter"
    webhook_deliveries  = "webhook-deliveries"
    webhook_dead_letter = "webhook-deliveries-dead-letter"
    schedule_ticks      = "schedule-ticks"
  }
  subscriptions = {
    worker_push = "${local.topics.run_requests}-worker-push"
    results_tap = "${local.topics.run_results}-tap"
    # Finished runs pushed back to the worker: evals score their cases (shared/evals/scoring.py).
    results_push = "${local.topics.run_results}-worker-push"
    dead_letter  = "${local.topics.dead_letter}-sub"
  }
  # The dispatcher's push subscriptions, one per topic it reads (infra/automation.tf).
  dispatcher_topics = ["run_results", "webhook_deliveries", "webhook_dead_letter", "schedule_ticks"]

  # The worker must finish (or be stopped by its timeout) before Pub/Sub's ack deadline
  # expires, or the message is redelivered while the first attempt still runs.
  run_ack_deadline_seconds = 600
  worker_timeout_seconds   = 540
  # The worker renews its run lease every third of this while it runs, so the lease need
  # not cover a whole run: it only bounds how long a crashed worker's run waits before a
  # redelivery takes it over (shared/runs/claim.py). The settings default.
  run_lease_seconds = 60
  # The dispatcher's pushes: a tick may start up to SCHEDULE_TICK_BATCH runs.
  dispatcher_timeout_seconds      = 300
  dispatcher_ack_deadline_seconds = 360

  # Path prefixes per HTTP function (API.md routing). Each prefix P is routed as P and P/*.
  routes = {
    auth        = ["/auth"]
    agents      = ["/agents", "/models", "/tools", "/templates", "/workspace", "/mcp-servers"]
    runs        = ["/runs", "/sessions", "/batches", "/eval-datasets", "/evals", "/v1", "/ag-ui", "/mcp", "/a2a", "/.well-known"]
    marketplace = ["/marketplace"]
    automation  = ["/webhooks", "/schedules"]
  }

  functions = {
    auth = {
      entry_point = "auth_api"
      http        = true
      # argon2id hashes take 64 MiB and ~0.1 s of CPU each (ARGON2_* settings): 8 concurrent
      # logins fit in 1 GiB on one vCPU; more would only queue behind the CPU.
      memory      = "1Gi"
      cpu         = "1"
      concurrency = 8
      timeout     = 60
      # Login starts every session: one warm instance keeps it free of cold starts.
      min_instances = 1
      max_instances = 20
      verify_tokens = true
      workspace     = false
      vertex        = false
      publishes_to  = []
      reads_topics  = []
    }
    agents = {
      entry_point = "agents_api"
      http        = true
      # Firestore CRUD and workspace files (up to 10 MiB each): I/O-bound, so many requests
      # share an instance; 512 MiB leaves room for a few file bodies in flight.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 40
      timeout       = 60
      min_instances = 0
      max_instances = 20
      verify_tokens = true
      workspace     = true
      vertex        = false
      publishes_to  = []
      reads_topics  = []
    }
    runs = {
      entry_point = "runs_api"
      http        = true
      # Sync and streamed runs hold the request open while the model answers: up to the
      # HTTP maximum of 60 minutes. Runs mostly wait on Vertex AI, so 20 share an instance
      # (pydantic-ai on one event loop per instance); 1 GiB for message histories.
      memory        = "1Gi"
      cpu           = "1"
      concurrency   = 20
      timeout       = 3600
      min_instances = 1
      max_instances = 50
      verify_tokens = true
      workspace     = true
      vertex        = true
      publishes_to  = ["run_requests", "run_results"]
      reads_topics  = ["run_requests"] # /runs/health checks the topic exists
    }
    marketplace = {
      entry_point = "marketplace_api"
      http        = true
      # Public listing reads and small writes: light and I/O-bound.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 40
      timeout       = 60
      min_instances = 0
      max_instances = 10
      verify_tokens = true
      workspace     = false
      vertex        = false
      publishes_to  = ["run_requests"] # verification evals of listings (shared/evals/verified.py)
      reads_topics  = []
    }
    worker = {
      entry_point = "run_worker"
      http        = false
      # One async run per delivery, each up to worker_timeout_seconds: the same execution
      # core as runs' sync path, mostly waiting on Vertex AI, so as many share an instance
      # (20; it was 4, which made async runs cost 5x the instance time of sync ones). Memory:
      # 122 MiB after the first run (bench figure 2) + per run at most a workspace file
      # (10 MiB), an MCP response (4 MiB) and its history: 20 x ~30 MiB fits in 1 GiB.
      memory        = "1Gi"
      cpu           = "1"
      concurrency   = 20
      timeout       = local.worker_timeout_seconds
      min_instances = 0
      max_instances = 20
      verify_tokens = false
      workspace     = true
      vertex        = true
      publishes_to  = ["run_requests", "run_results"]
      reads_topics  = []
    }
    automation = {
      entry_point = "automation_api"
      http        = true
      # Webhook and schedule CRUD; a test delivery waits up to WEBHOOK_TIMEOUT_SECONDS (10 s)
      # on the receiver, and run-now queues an async run: I/O-bound and light.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 40
      timeout       = 60
      min_instances = 0
      max_instances = 10
      verify_tokens = true
      workspace     = false
      vertex        = false
      publishes_to  = ["run_requests", "webhook_deliveries"]
      reads_topics  = ["run_requests"] # /webhooks/health checks the topic exists
    }
    dispatcher = {
      entry_point = "dispatch_event"
      http        = false
      # One webhook delivery (≤ 10 s on the receiver), one run result or one schedule tick
      # per push: mostly waiting on the network, so many share an instance.
      memory        = "512Mi"
      cpu           = "1"
      concurrency   = 20
      timeout       = local.dispatcher_timeout_seconds
      min_instances = 0
      max_instances = 20
      verify_tokens = false
      workspace     = false
      vertex        = false
      publishes_to  = ["run_requests", "webhook_deliveries"]
      reads_topics  = []
    }
  }

  http_functions      = { for name, fn in local.functions : name => fn if fn.http }
  workspace_functions = { for name, fn in local.functions : name => fn if fn.workspace }

  # Environment of every function (names: shared/settings.py fields, upper-cased).
  common_env = {
    ENVIRONMENT               = "cloud"
    GOOGLE_CLOUD_PROJECT      = var.project_id
    FIREBASE_PROJECT          = var.project_id
    LOG_LEVEL                 = var.log_level
    MODEL_BACKEND             = "vertex"
    VERTEX_LOCATION           = var.vertex_region
    ANTHROPIC_VERTEX_REGION   = var.anthropic_vertex_region
    RUN_REQUESTS_TOPIC        = local.topics.run_requests
    RUN_RESULTS_TOPIC         = local.topics.run_results
    RUN_DEAD_LETTER_TOPIC     = local.topics.dead_letter
    RUN_MAX_DELIVERY_ATTEMPTS = tostring(var.run_max_delivery_attempts)
    WEBHOOK_DELIVERIES_TOPIC  = local.topics.webhook_deliveries
    WEBHOOK_DEAD_LETTER_TOPIC = local.topics.webhook_dead_letter
    SCHEDULE_TICKS_TOPIC      = local.topics.schedule_ticks
    # The HTTPS load balancer appends one X-Forwarded-For entry after Google's front end.
    TRUSTED_PROXY_HOPS = "2"
    RUN_LEASE_SECONDS  = tostring(local.run_lease_seconds)
    JWT_SECRET_NAME    = local.jwt_secret_id
    # Read from Secret Manager when first needed (shared/mcp_servers/crypto.py).
    MCP_CREDENTIAL_KEYS_NAME = local.mcp_credential_keys_id
    CORS_ALLOWED_ORIGINS     = var.cors_allowed_origins
  }
}
