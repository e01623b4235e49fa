// DOM helpers shared by every screen. Everything the server sends is put on the page as
// text nodes, never as HTML, so a borrower named "<script>" stays a name.

import { ApiError } from "./api.js";

/** h("a", {href: "/x", class: "button", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      element.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
    } else if (key === "value" && "value" in element) {
      element.value = value;
    } else if (key === "testid") {
      element.dataset.testid = value;
    } else {
      element.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

// ---- money: integer minor units in, exact text out (no floating point anywhere) ----

const digitCache = new Map();

/** ISO 4217 minor digits as the browser's Intl data knows them (2 when it does not). */
export function minorDigits(currency) {
  if (!digitCache.has(currency)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions()
        .maximumFractionDigits;
    } catch {
      // An unknown code: two digits, the common case.
    }
    digitCache.set(currency, digits);
  }
  return digitCache.get(currency);
}

/** "123456" minor units of a 2-digit currency -> "1234.56", exactly. */
export function minorToDecimal(amountMinor, currency) {
  const digits = minorDigits(currency);
  const value = BigInt(amountMinor);
  const negative = value < 0n;
  const text = (negative ? -value : value).toString().padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const fraction = digits ? `.${text.slice(-digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/** A Money object ({amount_minor, currency}) as "KES 1,234.50". */
export function money(value) {
  if (!value || value.currency === undefined) return "—";
  const digits = minorDigits(value.currency);
  const decimal = minorToDecimal(value.amount_minor, value.currency);
  try {
    // Intl formats a decimal string exactly (no conversion through a float).
    return new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: value.currency,
      currencyDisplay: "code",
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(decimal);
  } catch {
    return `${value.currency} ${decimal}`;
  }
}

/** A list of Money (one per currency) as one line. */
export function moneys(values) {
  return values && values.length ? values.map(money).join(" · ") : "—";
}

/** What a person typed ("1,250.5") -> integer minor units; throws with a readable reason. */
export function parseAmount(text, currency) {
  const cleaned = String(text).replace(/[\s,]/g, "");
  const digits = minorDigits(currency);
  const match = /^(\d+)(?:\.(\d*))?$/.exec(cleaned);
  if (!match) throw new Error("enter an amount such as 1250.50");
  const fraction = match[2] || "";
  if (fraction.length > digits) {
    throw new Error(digits ? `${currency} has ${digits} decimal places at most` : `${currency} has no decimals`);
  }
  const minor = BigInt(match[1] + fraction.padEnd(digits, "0"));
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error("the amount is too large");
  return Number(minor);
}

export function percent(text) {
  if (text === undefined || text === null || text === "") return "—";
  return `${text}%`;
}

/** "2026-12-06" -> a local, unambiguous date ("6 Dec 2026"). */
export function date(iso) {
  if (!iso) return "—";
  const [year, month, day] = iso.slice(0, 10).split("-").map(Number);
  if (!year) return iso;
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, month - 1, day)),
  );
}

export function dateTime(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(iso),
  );
}

/** Today as YYYY-MM-DD in the browser's zone (the server still decides the business date). */
export function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export function label(enumValue) {
  if (!enumValue) return "—";
  const text = String(enumValue).replace(/_/g, " ").toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function badge(status) {
  return h("span", { class: `badge badge-${String(status || "").toLowerCase()}` }, label(status));
}

export function newKey() {
  return crypto.randomUUID();
}

// ---- feedback ----

/** A readable sentence for any failure; never raw JSON. */
export function describe(error) {
  if (error instanceof ApiError) {
    if (error.status === 404) return error.message || "Not found.";
    return error.message;
  }
  return "Something went wrong in the page. Reload it and try again.";
}

export function errorBox(error, retry) {
  return h(
    "div",
    { class: "alert alert-error", role: "alert", testid: "error" },
    h("p", {}, describe(error)),
    error instanceof ApiError && error.requestId
      ? h("p", { class: "muted small" }, `Reference: ${error.requestId}`)
      : null,
    retry ? h("button", { type: "button", class: "button secondary", onclick: retry }, "Try again") : null,
  );
}

export function spinner(text = "Loading…") {
  return h("div", { class: "loading", role: "status", "aria-live": "polite", testid: "loading" }, text);
}

/** A region that shows "Loading…", then what build(data) returns, or the error with a retry. */
export function loader(fetcher, build) {
  const region = h("div", { class: "loader" });
  const run = async () => {
    region.replaceChildren(spinner());
    try {
      const data = await fetcher();
      region.replaceChildren(build(data, run));
    } catch (error) {
      region.replaceChildren(errorBox(error, run));
    }
  };
  run();
  return region;
}

let toastRegion = null;

export function toast(message, kind = "success") {
  if (!toastRegion) {
    toastRegion = h("div", { class: "toasts", "aria-live": "polite" });
    document.body.append(toastRegion);
  }
  const item = h("div", { class: `toast toast-${kind}`, role: "status", testid: "toast" }, message);
  toastRegion.append(item);
  setTimeout(() => item.remove(), 6000);
}

// ---- layout pieces ----

export function page(title, ...children) {
  return h("section", { class: "page" }, h("h1", {}, title), ...children);
}

export function card(title, ...children) {
  return h("div", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** A definition list from [label, value] pairs; values may be nodes. */
export function facts(pairs) {
  return h(
    "dl",
    { class: "facts" },
    pairs.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "—")]),
  );
}

/** columns: [{label, value: row => text|node, num?: bool}]; rows: array;
 * rowAttrs: row => attributes of its <tr> (e.g. a testid). */
export function table(columns, rows, { empty = "Nothing here yet.", testid, rowAttrs } = {}) {
  if (!rows.length) return h("p", { class: "empty muted", testid: testid ? `${testid}-empty` : null }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { testid },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null, scope: "col" }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h("tr", rowAttrs ? rowAttrs(row) : {}, columns.map((c) => h("td", { class: c.num ? "num" : null, "data-label": c.label }, c.value(row)))),
        ),
      ),
    ),
  );
}

/** A list that fetches page after page on "Load more": fetchPage(token) -> {items, next, total}. */
export function pagedTable(columns, fetchPage, options = {}) {
  const region = h("div", { class: "paged" });
  const rows = [];
  const more = h("button", { type: "button", class: "button secondary" }, "Load more");
  const status = h("p", { class: "muted small" });
  let token = "";
  const load = async () => {
    more.disabled = true;
    more.textContent = "Loading…";
    try {
      const result = await fetchPage(token);
      rows.push(...result.items);
      token = result.next || "";
      region.replaceChildren(table(columns, rows, options), status, token ? more : "");
      status.textContent = result.total ? `${rows.length} of ${result.total}` : "";
    } catch (error) {
      region.replaceChildren(table(columns, rows, options), errorBox(error, load));
    } finally {
      more.disabled = false;
      more.textContent = "Load more";
    }
  };
  more.addEventListener("click", load);
  region.append(spinner());
  load();
  return region;
}

// ---- forms: API validation errors land next to the field they name ----

/**
 * fields: [{name, label, type?, options?: [[value, text]], required?, value?, hint?,
 *           attrs?, errorNames?: [api field names shown at this input]}]
 *   An entry may also be {fieldset: "Legend", fields: [...], testid?} (drawn as a <fieldset>),
 *   {name, errorOnly: true} (an error line for a list or group that has no input of its own),
 *   or a Node (put in as it is). Names may be API paths ("current_address.city",
 *   "identity_documents[0].number"): an error lands at the field whose name is its path, else
 *   at the first whose name or errorNames is a prefix of it.
 * onSubmit(values, form) -> Promise; throwing an ApiError shows its field errors inline.
 * Values are strings as typed (the caller converts); the button is disabled while in flight,
 * so a double tap submits once. form.addField(field, parent) and form.removeField(name) add
 * and drop fields later (repeating groups).
 */
export function form({ fields, submit = "Save", onSubmit, testid, extra }) {
  const formError = h("div", { class: "form-error", role: "alert" });
  const inputs = new Map();
  const errors = new Map();
  const registered = [];
  const element = h("form", { class: "form", novalidate: true, testid });
  const build = (field) => {
    if (field instanceof Node) return field;
    if (field.fieldset !== undefined) {
      return h(
        "fieldset",
        { class: ["fieldset", field.class], testid: field.testid },
        field.fieldset ? h("legend", {}, field.fieldset) : null,
        h("div", { class: "fieldset-body" }, field.fields.map(build)),
      );
    }
    const error = h("p", { class: "field-error", id: `err-${++errorCounter}`, testid: `error-${field.name}` });
    errors.set(field.name, error);
    registered.push(field);
    if (field.errorOnly) return h("div", { class: "field wide field-error-only" }, error);
    const input = control(field);
    input.setAttribute("aria-describedby", error.id);
    inputs.set(field.name, input);
    return h(
      "div",
      { class: ["field", field.wide ? "wide" : null, field.type === "checkbox" ? "field-check" : null], testid: `field-${field.name}` },
      h("label", { for: input.id }, field.label, field.required ? h("span", { class: "req" }, " *") : null),
      input,
      field.hint ? h("p", { class: "hint muted small" }, field.hint) : null,
      error,
    );
  };
  for (const field of fields) element.append(build(field));
  const button = h("button", { type: "submit", class: "button primary", testid: testid ? `${testid}-submit` : null }, submit);
  element.append(formError, extra || "", h("div", { class: "actions" }, button));

  const api = {
    element,
    inputs,
    /** Adds a field (or a fieldset of them) after the form was built; returns its element. */
    addField(field, parent) {
      const node = build(field);
      if (parent) parent.append(node);
      return node;
    },
    /** Forgets a field added earlier (the caller removes its element). */
    removeField(name) {
      inputs.delete(name);
      errors.delete(name);
      const at = registered.findIndex((f) => f.name === name);
      if (at >= 0) registered.splice(at, 1);
    },
    values() {
      const values = {};
      for (const [name, input] of inputs) values[name] = input.type === "checkbox" ? input.checked : input.value.trim();
      return values;
    },
    clearErrors() {
      formError.replaceChildren();
      for (const [name, error] of errors) {
        error.textContent = "";
        inputs.get(name)?.removeAttribute("aria-invalid");
      }
    },
    fieldError(name, message) {
      const error = errors.get(name);
      if (!error) return false;
      error.textContent = error.textContent ? `${error.textContent}; ${message}` : message;
      inputs.get(name)?.setAttribute("aria-invalid", "true");
      return true;
    },
    showError(error) {
      const leftover = [];
      for (const violation of (error instanceof ApiError && error.fields) || []) {
        const target = fieldFor(registered, violation.field);
        if (!(target && api.fieldError(target, violation.description))) leftover.push(violation);
      }
      const message =
        error instanceof ApiError && error.fields.length && !leftover.length
          ? "Please correct the fields marked in red."
          : describe(error);
      formError.replaceChildren(
        h("div", { class: "alert alert-error" }, message, leftover.length
          ? h("ul", {}, leftover.map((v) => h("li", {}, `${v.field}: ${v.description}`)))
          : null),
      );
      const first = [...errors.values()].find((e) => e.textContent);
      (first || formError).scrollIntoView?.({ block: "center" });
    },
    /** Extra content under the form's error line (a link to a duplicate, say). */
    note(node) {
      formError.append(node);
    },
  };
  let busy = false;
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    button.disabled = true;
    const text = button.textContent;
    button.textContent = "Working…";
    api.clearErrors();
    try {
      await onSubmit(api.values(), api);
    } catch (error) {
      api.showError(error);
    } finally {
      busy = false;
      button.disabled = false;
      button.textContent = text;
    }
  });
  return api;
}

/** A local check before calling the API: throws an ApiError shaped like the server's. */
export function invalid(field, description) {
  return new ApiError(422, { code: "INVALID_ARGUMENT", message: `${field}: ${description}`, fields: [{ field, description }] });
}

function fieldFor(fields, apiName) {
  // The field named exactly by the path wins over one whose name is a prefix of it.
  for (const field of fields) {
    if ([field.name, ...(field.errorNames || [])].includes(apiName)) return field.name;
  }
  for (const field of fields) {
    const names = [field.name, ...(field.errorNames || [])];
    if (names.some((n) => apiName === n || apiName.startsWith(`${n}.`) || apiName.startsWith(`${n}[`))) return field.name;
  }
  return null;
}

let fieldCounter = 0;
let errorCounter = 0;

function control(field) {
  const id = `f-${field.name.replace(/[^\w-]/g, "-")}-${++fieldCounter}`;
  const common = { id, name: field.name, required: field.required, ...(field.attrs || {}) };
  if (field.type === "select") {
    return h(
      "select",
      common,
      (field.options || []).map(([value, text]) =>
        h("option", { value, selected: String(value) === String(field.value ?? "") }, text),
      ),
    );
  }
  if (field.type === "textarea") return h("textarea", { ...common, rows: 3 }, field.value ?? "");
  if (field.type === "checkbox") return h("input", { ...common, type: "checkbox", checked: Boolean(field.value) });
  const type = field.type === "money" ? "text" : field.type || "text";
  const extra = field.type === "money" ? { inputmode: "decimal", autocomplete: "off" } : {};
  return h("input", { ...common, ...extra, type, value: field.value ?? "" });
}

/** Options for a <select> from an enum list, with a blank first choice when optional. */
export function options(values, { blank } = {}) {
  const list = values.map((v) => [v, label(v)]);
  return blank === undefined ? list : [["", blank], ...list];
}

/** A button that runs an action once at a time and reports its failure next to itself. */
export function actionButton(text, action, { kind = "secondary", testid } = {}) {
  const message = h("span", { class: "action-error", role: "alert" });
  const button = h("button", { type: "button", class: `button ${kind}`, testid }, text);
  button.addEventListener("click", async () => {
    if (button.disabled) return;
    button.disabled = true;
    message.textContent = "";
    try {
      await action();
    } catch (error) {
      message.textContent = describe(error);
    } finally {
      button.disabled = false;
    }
  });
  return h("span", { class: "action" }, button, message);
}

/** Figures as tiles: [[name, value, testid?]]; values may be nodes. */
export function stats(items) {
  return h(
    "div",
    { class: "stats" },
    items.filter(Boolean).map(([name, value, testid]) =>
      h("div", { class: "stat", testid }, h("div", { class: "value" }, value ?? "—"), h("div", { class: "name" }, name)),
    ),
  );
}
