// Login and the password change (forced at first login, or chosen from the account menu).

import { form, h, invalid } from "../ui.js";

function safeNext(query) {
  const next = query.get("next") || "/";
  // Only paths of this site: "//evil.example" or "https://..." would leave it.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

async function renderLogin(ctx) {
  if (ctx.session.user) {
    ctx.navigate(safeNext(ctx.query), { replace: true });
    return h("div");
  }
  const flash = ctx.shell.takeFlash();
  const login = form({
    testid: "login",
    submit: "Log in",
    fields: [
      { name: "username", label: "Email", type: "email", required: true, attrs: { autocomplete: "username", autofocus: true } },
      { name: "password", label: "Password", type: "password", required: true, attrs: { autocomplete: "current-password" } },
    ],
    async onSubmit(values) {
      if (!values.username) throw invalid("username", "enter your email");
      if (!values.password) throw invalid("password", "enter your password");
      await ctx.api.login(values.username, values.password);
      await ctx.shell.startSession();
      ctx.navigate(ctx.session.mustChangePassword ? "/account/password" : safeNext(ctx.query), { replace: true });
    },
  });
  return h(
    "section",
    { class: "page narrow login" },
    h("h1", {}, "Log in"),
    h("p", { class: "muted" }, "For field agents and branch admins."),
    flash ? h("div", { class: "alert alert-info", role: "status", testid: "flash" }, flash) : null,
    login.element,
  );
}

async function renderPassword(ctx) {
  const forced = ctx.session.mustChangePassword;
  const change = form({
    testid: "password",
    submit: "Change password",
    fields: [
      { name: "old_password", label: forced ? "Temporary password" : "Current password", type: "password", required: true, attrs: { autocomplete: "current-password" } },
      { name: "new_password", label: "New password", type: "password", required: true, attrs: { autocomplete: "new-password" }, hint: "At least 10 characters, not your email; a phrase is easiest to remember." },
      { name: "confirm", label: "New password again", type: "password", required: true, attrs: { autocomplete: "new-password" } },
    ],
    async onSubmit(values) {
      if (values.new_password !== values.confirm) throw invalid("confirm", "does not match the new password");
      const tokens = await ctx.api.request("POST", "/auth/password", {
        body: { old_password: values.old_password, new_password: values.new_password },
        headers: { "X-Token-Transport": "cookie" },
      });
      ctx.api.setAccessToken(tokens.access_token);
      await ctx.shell.startSession();
      ctx.navigate("/", { replace: true });
    },
  });
  return h(
    "section",
    { class: "page narrow" },
    h("h1", {}, "Change your password"),
    forced
      ? h("div", { class: "alert alert-info", testid: "forced-change" }, "This is your first login: choose your own password before you go on.")
      : null,
    change.element,
  );
}

export const routes = [
  { path: "/login", title: "Log in", public: true, bare: true, render: renderLogin },
  { path: "/account/password", title: "Change password", render: renderPassword },
];
