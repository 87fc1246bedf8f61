// Workspace files: upload, list, download, delete (the folder the file tools see).
import * as api from "../api.js";
import { registerPage } from "../router.js";
import { announce, busy, h, label, listAll, showError, when } from "../ui.js";

export function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** Download a response body as a file named after the path (an <a download> click). */
export async function saveAs(apiPath, fileName) {
  const response = await api.raw("GET", apiPath);
  const url = URL.createObjectURL(await response.blob());
  const link = h("a", { href: url, download: fileName.split("/").pop() });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function size(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

async function viewFiles({ page }) {
  const errors = h("div", { class: "errors", role: "alert", hidden: true });
  const status = h("p", { role: "status" });
  const picker = h("input", { type: "file", id: "file-upload", name: "file", required: true });
  const target = h("input", { id: "file-path", name: "path", placeholder: "notes/today.txt" });
  const upload = h("button", { type: "submit" }, "Upload");
  const form = h("form", { class: "stack", "aria-labelledby": "upload-heading" },
    h("h2", { id: "upload-heading" }, "Upload a file"),
    label("File", picker),
    label("Path in the workspace (optional; default: the file's name)", target),
    upload);
  const table = h("div", { class: "table-scroll" });

  const refresh = async () => {
    const files = await listAll("/workspace/files");
    table.replaceChildren(files.length
      ? h("table", { class: "cards-on-phone" },
          h("caption", { class: "visually-hidden" }, "Workspace files"),
          h("thead", {}, h("tr", {}, ["Path", "Size", "Updated", ""].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, files.map((f) => h("tr", {},
            h("td", { "data-label": "Path" }, h("code", {}, f.path)),
            h("td", { "data-label": "Size" }, size(f.size)),
            h("td", { "data-label": "Updated" }, when(f.updated_at)),
            h("td", {},
              h("div", { class: "row" },
                h("button", { type: "button", class: "secondary", "aria-label": `Download ${f.path}`,
                  onclick: () => saveAs(`/workspace/files/${encodePath(f.path)}`, f.path).catch((e) => showError(errors, e)) }, "Download"),
                h("button", { type: "button", class: "secondary", "aria-label": `Delete ${f.path}`,
                  onclick: async () => {
                    if (!confirm(`Delete ${f.path}?`)) return;
                    try {
                      await api.del(`/workspace/files/${encodePath(f.path)}`);
                      announce(`Deleted ${f.path}`);
                      await refresh();
                    } catch (error) {
                      showError(errors, error);
                    }
                  } }, "Delete")))))))
      : h("p", { class: "muted" }, "No files yet. Agents with file tools read and write here."));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(errors, null);
    const file = picker.files[0];
    if (!file) return;
    const path = (target.value.trim() || file.name).replace(/^\/+/, "");
    try {
      const stored = await busy(upload, () => api.call("PUT", `/workspace/files/${encodePath(path)}`, {
        rawBody: file, headers: { "Content-Type": file.type || "application/octet-stream" },
      }));
      status.textContent = `Uploaded ${stored.path} (${size(stored.size)}).`;
      announce(status.textContent);
      form.reset();
      await refresh();
    } catch (error) {
      showError(errors, error);
    }
  });
  page("Files", h("p", { class: "muted" }, "Your workspace: the folder your agents' file tools see."),
    form, errors, status, h("h2", {}, "Files"), table);
  await refresh();
}

registerPage({ path: "/files", view: viewFiles, nav: { label: "Files", order: 35 } });
