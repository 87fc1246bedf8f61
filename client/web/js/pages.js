// The console's pages: each module registers its routes and navigation entry with
// registerPage() (js/router.js). A new page is a new file in js/pages/ plus one line here.
import "./pages/login.js";
import "./pages/agents.js";
import "./pages/catalog.js";
import "./pages/chat.js";
import "./pages/sessions.js";
import "./pages/runs.js";
import "./pages/evals.js";
import "./pages/files.js";
import "./pages/market.js";
import "./pages/schedules.js";
import "./pages/webhooks.js";
import "./pages/mcp-servers.js";
import "./pages/tokens.js";
