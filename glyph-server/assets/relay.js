// The share relay's pages (spec section 7). Everything secret happens here,
// in the browser: the key is made here (or read from the link's #fragment,
// which browsers never send to a server), and only ciphertext crosses the
// network. Only a click on "Reveal" spends a view.
"use strict";

const IV_LEN = 12;

function $(id) { return document.getElementById(id); }

function show(id, text) {
  const el = $(id);
  if (text !== undefined) el.textContent = text;
  el.hidden = false;
}

function bytesToB64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

function b64ToBytes(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function b64url(bytes) {
  return bytesToB64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Strict: exactly 32 bytes of unpadded base64url, canonical.
function keyFromB64url(text) {
  if (!/^[A-Za-z0-9_-]{43}$/.test(text)) return null;
  const bytes = b64ToBytes(text.replace(/-/g, "+").replace(/_/g, "/") + "=");
  if (bytes.length !== 32 || b64url(bytes) !== text) return null;
  return bytes;
}

function webCrypto() {
  if (!window.crypto || !window.crypto.subtle) {
    throw new Error("This page needs a secure connection (HTTPS): the browser's Web Crypto is unavailable here.");
  }
  return window.crypto.subtle;
}

async function seal(plaintext) {
  const subtle = webCrypto();
  const key = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(IV_LEN));
  const cryptoKey = await subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
  const ct = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv }, cryptoKey, plaintext));
  const blob = new Uint8Array(IV_LEN + ct.length);
  blob.set(iv, 0);
  blob.set(ct, IV_LEN);
  return { key, blob };
}

async function open(key, blob) {
  const subtle = webCrypto();
  if (blob.length < IV_LEN + 16) throw new Error("short blob");
  const cryptoKey = await subtle.importKey("raw", key, "AES-GCM", false, ["decrypt"]);
  const iv = blob.subarray(0, IV_LEN);
  const pt = await subtle.decrypt({ name: "AES-GCM", iv }, cryptoKey, blob.subarray(IV_LEN));
  return new Uint8Array(pt);
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return body.error.message;
  } catch (_) {
    return "the server answered " + response.status;
  }
}

// /s/<code>: reveal on click.
function revealPage(main) {
  const code = main.dataset.code;
  const params = new URLSearchParams(location.hash.slice(1));
  const key = keyFromB64url(params.get("key") || "");
  const button = $("reveal");
  const revealedHere = "glyph-revealed:" + code;
  if (!key) {
    button.disabled = true;
    if (sessionStorage.getItem(revealedHere) !== null) {
      // Revealed in this tab, then reloaded: the key was taken out of the
      // address bar on purpose. Say so, and how many views remain.
      $("intro").hidden = true;
      show("after", "You revealed this secret here. Its key was removed from the address bar so that it does not stay in your history; open the original link again to see it.");
      fetch("/v1/shares/" + encodeURIComponent(code), { cache: "no-store", credentials: "omit" })
        .then((r) => (r.ok ? r.json() : null))
        .then((info) => {
          const left = info ? info.views_left : 0;
          show("after", $("after").textContent + " " + (left > 0
            ? left + " view" + (left === 1 ? " remains." : "s remain.")
            : "No views remain."));
        })
        .catch(() => {});
      return;
    }
    show("error", "This link is incomplete: the key after “#key=” is missing or damaged. Ask the sender for the whole link.");
    return;
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    let response;
    try {
      response = await fetch("/v1/shares/" + encodeURIComponent(code) + "/open", {
        method: "POST",
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch (_) {
      button.disabled = false;
      show("error", "The server could not be reached. Try again.");
      return;
    }
    if (response.status === 404) {
      $("intro").hidden = true;
      button.hidden = true;
      show("error", "This secret is gone: it was already viewed, or it expired.");
      return;
    }
    if (!response.ok) {
      button.disabled = false;
      show("error", await errorMessage(response));
      return;
    }
    const body = await response.json();
    // The key leaves the address bar; it stays only in this page's memory.
    history.replaceState(null, "", location.pathname);
    sessionStorage.setItem(revealedHere, String(body.views_left));
    try {
      const plaintext = await open(key, b64ToBytes(body.blob));
      $("intro").hidden = true;
      button.hidden = true;
      show("secret", new TextDecoder().decode(plaintext));
      show("copy-secret");
      $("copy-secret").addEventListener("click", () => copyText($("secret").textContent, $("copy-secret")));
      show("after", body.views_left > 0
        ? "It can be viewed " + body.views_left + " more time" + (body.views_left === 1 ? "" : "s") + "."
        : "This was its last view: it is now deleted from the server. Copy it now if you need it.");
    } catch (_) {
      show("error", "The link's key does not open this secret: the link is damaged. (The view was spent.)");
    }
  });
}

// /share: encrypt here, upload only the ciphertext, show the link.
function sharePage() {
  const form = $("share-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("create");
    $("error").hidden = true;
    const text = $("plaintext").value;
    if (text.length === 0) {
      show("error", "Write the secret first.");
      return;
    }
    button.disabled = true;
    try {
      const { key, blob } = await seal(new TextEncoder().encode(text));
      const response = await fetch("/v1/shares", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          blob: bytesToB64(blob),
          views: Number($("views").value),
          ttl_secs: Number($("ttl").value),
        }),
        cache: "no-store",
        credentials: "omit",
      });
      if (!response.ok) throw new Error(await errorMessage(response));
      const created = await response.json();
      $("link").value = location.origin + "/s/" + created.code + "#key=" + b64url(key);
      $("plaintext").value = "";
      const expires = new Date(created.expires_at * 1000).toLocaleString();
      // One link per secret: the form goes until "Make another".
      form.hidden = true;
      $("copy").textContent = "Copy";
      show("result");
      show("result-note", "Opens " + created.views + " time" + (created.views === 1 ? "" : "s") + ", until " + expires + ". The key is only in the link: anyone with the link can open it.");
    } catch (err) {
      show("error", err.message || String(err));
    } finally {
      button.disabled = false;
    }
  });
  $("copy").addEventListener("click", () => copyText($("link").value, $("copy")));
  $("another").addEventListener("click", () => {
    $("result").hidden = true;
    $("link").value = "";
    form.hidden = false;
    $("plaintext").focus();
  });
}

async function copyText(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (_) {
    button.textContent = "Select and copy";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const main = document.querySelector("main");
  try {
    if (main.dataset.page === "reveal") revealPage(main);
    if (main.dataset.page === "share") sharePage();
  } catch (err) {
    show("error", err.message || String(err));
  }
});
