# What the edge enforces before a request reaches a function: a Cloud Armor policy on every
# backend service (per-IP rate limits on authentication and run creation, the preconfigured
# WAF rules that fit a JSON API, adaptive L7 DDoS protection) and the TLS policy of the
# HTTPS proxy. docs/security.md explains each choice; tests/test_deploy.py checks them.

locals {
  # Per client IP, per minute, counted at the edge across every instance. These stop floods
  # from one address; they sit well above what a person or a NAT'd office does, because
  # the per-account login throttle and the per-user run quota (shared/) do the fine work and
  # must not be pre-empted for innocent users behind a shared address.
  edge_rate_limits = {
    auth = {
      priority    = 2000
      description = "POST /auth/* (register, login, refresh) per client IP"
      expression  = "request.method == 'POST' && request.path.startsWith('/auth/')"
      per_minute  = 120
    }
    run_creation = {
      priority    = 2100
      description = "POST /runs, /batches and the OpenAI-compatible /v1/* (model spend) per client IP"
      expression  = "request.method == 'POST' && (request.path == '/runs' || request.path == '/batches' || request.path.startsWith('/v1/'))"
      per_minute  = 600
    }
  }

  # Preconfigured WAF rule sets that fit this API (cve-canary is a rule of its own below,
  # where checkov can see it). Left out on purpose: sqli, xss, lfi, rfi,
  # rce and php inspect bodies, and ours carry system prompts, code and workspace files,
  # where SQL, HTML and "../" are legitimate content (those attacks are handled where they
  # could land: parameterised Firestore calls, JSON-only responses, the workspace sandbox);
  # methodenforcement admits only GET/HEAD/POST/OPTIONS, and the API uses PUT, PATCH and DELETE.
  edge_waf_rules = {
    protocol_attack = {
      priority    = 1100
      description = "HTTP request smuggling, response splitting, header injection (protocolattack)"
      expression  = "evaluatePreconfiguredWaf('protocolattack-v33-stable', {'sensitivity': 1})"
    }
    scanner_detection = {
      priority    = 1200
      description = "Known vulnerability scanners by signature (scannerdetection)"
      expression  = "evaluatePreconfiguredWaf('scannerdetection-v33-stable', {'sensitivity': 1})"
    }
  }
}

resource "google_compute_security_policy" "api" {
  name        = "agents-api"
  description = "agents service: rate limits, WAF rules and L7 DDoS protection for the API backends"
  type        = "CLOUD_ARMOR"

  # Learns the normal traffic and alerts on (and proposes rules for) L7 floods.
  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  # WAF rules inspect JSON bodies field by field instead of as one string.
  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  # Log4Shell and other known CVE probes (every sensitivity level of cve-canary).
  rule {
    action      = "deny(403)"
    priority    = 1000
    description = "known CVE probes (cve-canary)"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  dynamic "rule" {
    for_each = local.edge_waf_rules
    content {
      action      = "deny(403)"
      priority    = rule.value.priority
      description = rule.value.description
      match {
        expr {
          expression = rule.value.expression
        }
      }
    }
  }

  # Throttle (not ban): requests over the rate get 429, the next window is admitted again.
  dynamic "rule" {
    for_each = local.edge_rate_limits
    content {
      action      = "throttle"
      priority    = rule.value.priority
      description = rule.value.description
      match {
        expr {
          expression = rule.value.expression
        }
      }
      rate_limit_options {
        conform_action = "allow"
        exceed_action  = "deny(429)"
        enforce_on_key = "IP"
        rate_limit_threshold {
          count        = rule.value.per_minute
          interval_sec = 60
        }
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "everything else reaches the functions, which authenticate it"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  depends_on = [google_project_service.enabled]
}

# TLS 1.2 or later with the MODERN profile's cipher suites (forward secrecy, AEAD).
resource "google_compute_ssl_policy" "api" {
  name            = "agents-api-tls"
  description     = "agents service: TLS 1.2 minimum, modern ciphers"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
  depends_on      = [google_project_service.enabled]
}
