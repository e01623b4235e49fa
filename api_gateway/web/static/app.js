// The shell: restores the session, draws the header and the navigation for the user's role,
// and routes history-API paths to the screens in views/.

import * as api from "./api.js";
import { errorBox, h, spinner } from "./ui.js";
import { routes as allRoutes } from "./views/index.js";

const APP_NAME = "microfinance";
const EXPIRED = "Your session has expired. Please log in again.";

const session = { user: null, role: null, identity: null, mustChangePassword: false };
let flash = "";

const compiled = allRoutes.map((route) => {
  const keys = [];
  const pattern = route.path.replace(/:(\w+)/g, (_, key) => {
    keys.push(key);
    return "([^/]+)";
  });
  return { ...route, keys, regex: new RegExp(`^${pattern}/?$`) };
});

function match(pathname) {
  for (const route of compiled) {
    const found = route.regex.exec(pathname);
    if (found) {
      const params = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(found[i + 1]);
      });
      return { route, params };
    }
  }
  return null;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  render();
}

/** Tells the login screen why it is shown ("session expired"). */
export function setFlash(message) {
  flash = message;
}

export function takeFlash() {
  const message = flash;
  flash = "";
  return message;
}

/** After login, password change or a restored cookie: load who the user is. */
export async function startSession() {
  const me = await api.get("/me");
  session.user = me.staff;
  session.role = me.staff.role;
  session.mustChangePassword = me.must_change_password;
}

export async function endSession(message = "") {
  await api.logout();
  session.user = null;
  session.role = null;
  setFlash(message);
  navigate("/login", { replace: true });
}

export function isAdmin() {
  return session.role === "ADMIN";
}

const NAV = [
  { href: "/", text: "Home" },
  { href: "/borrowers", text: "Borrowers" },
  { href: "/loans", text: "Loans" },
  { href: "/reports", text: "Reports" },
  { href: "/admin/approvals", text: "Approvals", admin: true },
  { href: "/admin/kyc", text: "KYC", admin: true },
  { href: "/admin/staff", text: "Staff", admin: true },
  { href: "/admin/products", text: "Products", admin: true },
  { href: "/admin/eod", text: "End of day", admin: true },
];

function header(pathname) {
  const links = NAV.filter((item) => !item.admin || isAdmin()).map((item) => {
    const current = item.href === "/" ? pathname === "/" : pathname.startsWith(item.href);
    return h("a", { href: item.href, class: current ? "current" : null, "aria-current": current ? "page" : null }, item.text);
  });
  return h(
    "header",
    { class: "topbar" },
    h(
      "div",
      { class: "topbar-row" },
      h("a", { href: "/", class: "brand" }, APP_NAME),
      h(
        "div",
        { class: "who" },
        h("span", { class: "who-name", testid: "who" }, `${session.user.full_name} · ${session.role === "ADMIN" ? "Admin" : "Agent"}`),
        h("button", { type: "button", class: "button link", testid: "logout", onclick: () => endSession("You are logged out.") }, "Log out"),
      ),
    ),
    h("nav", { class: "mainnav", "aria-label": "Main" }, links),
  );
}

function forbidden() {
  return h(
    "section",
    { class: "page", testid: "forbidden" },
    h("h1", {}, "Not allowed"),
    h("p", {}, "This page is for admins. Your account is an agent's, so it is not shown to you."),
    h("a", { href: "/", class: "button secondary" }, "Back to home"),
  );
}

function notFound() {
  return h(
    "section",
    { class: "page", testid: "not-found" },
    h("h1", {}, "Page not found"),
    h("p", {}, "There is no page at this address."),
    h("a", { href: "/", class: "button secondary" }, "Back to home"),
  );
}

let renderCount = 0;

export async function render() {
  const mine = ++renderCount;
  const root = document.getElementById("app");
  const { pathname, search } = window.location;
  const found = match(pathname);
  const isPublic = found && found.route.public;

  if (!isPublic && !session.user) {
    const next = pathname === "/" ? "" : `?next=${encodeURIComponent(pathname + search)}`;
    history.replaceState({}, "", `/login${next}`);
    return render();
  }
  if (session.user && session.mustChangePassword && pathname !== "/account/password") {
    history.replaceState({}, "", "/account/password");
    return render();
  }

  const main = h("main", { id: "main", class: "main", tabindex: "-1" }, spinner());
  root.replaceChildren(...(session.user && !found?.route.bare ? [header(pathname)] : []), main);

  let content;
  if (!found) content = notFound();
  else if (found.route.admin && !isAdmin()) content = forbidden();
  else {
    document.title = `${found.route.title} · ${APP_NAME}`;
    const ctx = {
      params: found.params,
      query: new URLSearchParams(search),
      session,
      api,
      navigate,
      // Views reach the shell through ctx, so no module imports app.js back.
      shell: { startSession, endSession, takeFlash, isAdmin, render },
    };
    try {
      content = await found.route.render(ctx);
    } catch (error) {
      content = h("section", { class: "page" }, errorBox(error, () => render()));
    }
  }
  if (mine !== renderCount) return; // a newer navigation won
  main.replaceChildren(content);
  if (!found || found.route.admin) document.title = `${found ? found.route.title : "Not found"} · ${APP_NAME}`;
}

function interceptLinks() {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/static/")) return;
    if (["/docs", "/redoc"].includes(url.pathname)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => render());
}

async function boot() {
  interceptLinks();
  api.onSessionExpired(() => {
    if (!session.user) return;
    session.user = null;
    session.role = null;
    setFlash(EXPIRED);
    const here = window.location.pathname + window.location.search;
    navigate(`/login?next=${encodeURIComponent(here)}`, { replace: true });
  });
  document.getElementById("app").replaceChildren(spinner("Starting…"));
  try {
    // A page load keeps no token: the refresh cookie, when there is one, brings it back.
    if (await api.refresh()) await startSession();
  } catch {
    // Offline or the server is down: show the login screen, which reports the failure.
  }
  render();
}

boot();
