// The console's entry point: registers every page, renders the header and starts routing.
import "./pages.js";
import { renderAccount } from "./account.js";
import { start } from "./router.js";

renderAccount();
start();
