// Markdown for model output, rendered safely: the text is parsed into DOM nodes built with
// createElement/textContent, so raw HTML in a reply is shown as text and never interpreted.
// Supports paragraphs, headings, fenced code, lists, block quotes, **bold**, *italic*,
// `code` and [links](https://…) (http/https/mailto only).
import { h } from "./ui.js";

const SAFE_LINK = /^(https?:|mailto:)/i;

function inline(text) {
  const nodes = [];
  const pattern = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    const token = match[0];
    if (match[1]) nodes.push(h("code", {}, token.slice(1, -1)));
    else if (match[2]) nodes.push(h("strong", {}, ...inline(token.slice(2, -2))));
    else if (match[3]) nodes.push(h("em", {}, ...inline(token.slice(1, -1))));
    else {
      const [, label, href] = token.match(/^\[([^\]]+)\]\(([^)\s]+)\)$/);
      nodes.push(SAFE_LINK.test(href) ? h("a", { href, rel: "noopener noreferrer", target: "_blank" }, label) : token);
    }
    last = match.index + token.length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/** A DocumentFragment for the Markdown source. */
export function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) out.append(h("p", {}, ...inline(paragraph.join(" "))));
    paragraph = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^```\s*([\w+-]*)\s*$/);
    if (fence) {
      flush();
      const code = [];
      i += 1;
      while (i < lines.length && !/^```\s*$/.test(lines[i])) code.push(lines[i++]);
      i += 1;
      out.append(h("pre", {}, h("code", fence[1] ? { "data-lang": fence[1] } : {}, code.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      // Reply headings sit under the page's own headings: start at h3.
      out.append(h(`h${Math.min(6, heading[1].length + 2)}`, {}, ...inline(heading[2])));
      i += 1;
      continue;
    }
    const bullet = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
    if (bullet) {
      flush();
      const ordered = /\d/.test(bullet[1]);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length) {
        const item = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
        if (!item) break;
        list.append(h("li", {}, ...inline(item[2])));
        i += 1;
      }
      out.append(list);
      continue;
    }
    if (/^>\s?/.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) quoted.push(lines[i++].replace(/^>\s?/, ""));
      out.append(h("blockquote", {}, ...inline(quoted.join(" "))));
      continue;
    }
    if (!line.trim()) flush();
    else paragraph.push(line.trim());
    i += 1;
  }
  flush();
  return out;
}
