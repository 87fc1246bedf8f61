// Where the console finds the API. "" means same origin (the local gateway, or a Hosting
// rewrite to the API gateway). Replace this one file when deploying elsewhere (docs/web-console.md).
export default {
  apiBase: "",
};
