// Live parts of a page and small conveniences; every page loads this module (no inline script).
//
// data-live="URL" on an element: the element is replaced by the HTML fragment at URL every
// data-live-every milliseconds (default 2000) while the tab is visible. A fragment that no
// longer carries data-live (a finished pipeline) ends the refreshing.

const DEFAULT_EVERY = 2000;

// Where focus sits inside `root`, as child indexes, so that the same control in the fresh
// fragment gets it back: a keyboard user on "Stop" must not be thrown to the page's top.
function focusPath(root) {
  const path = [];
  for (let node = document.activeElement; node && node !== root; node = node.parentElement) {
    if (!node.parentElement) return null;
    path.unshift(Array.prototype.indexOf.call(node.parentElement.children, node));
  }
  return document.activeElement && root.contains(document.activeElement) ? path : null;
}

function refocus(root, path, tagName) {
  let node = root;
  for (const index of path) node = node?.children[index];
  if (node && node.tagName === tagName) node.focus({ preventScroll: true });
}

function schedule(element) {
  const every = Number(element.dataset.liveEvery || DEFAULT_EVERY);
  setTimeout(() => refresh(element), every);
}

async function refresh(element) {
  if (!element.isConnected) return;
  if (document.hidden) {
    document.addEventListener("visibilitychange", () => refresh(element), { once: true });
    return;
  }
  let replacement = null;
  try {
    const response = await fetch(element.dataset.live, {
      credentials: "same-origin",
      headers: { Accept: "text/html", "X-Blockpost-Script": "1" },
    });
    if (response.status === 401 || response.status === 404) {
      // The session ended or the thing is gone: a reload shows the login or the 404 page.
      window.location.reload();
      return;
    }
    if (response.ok) {
      const holder = document.createElement("template");
      holder.innerHTML = (await response.text()).trim();
      const fresh = holder.content.firstElementChild;
      if (fresh?.tagName === element.tagName && fresh.id === element.id) replacement = fresh;
    }
  } catch (error) {
    // A dropped connection (server restart) is retried on the next round.
  }
  if (replacement) {
    const path = focusPath(element);
    const tagName = document.activeElement?.tagName;
    element.replaceWith(replacement);
    if (path) refocus(replacement, path, tagName);
    document.dispatchEvent(new CustomEvent("blockpost:updated", { detail: replacement }));
    if (replacement.dataset.live) schedule(replacement);
  } else {
    schedule(element);
  }
}

function confirmSubmits() {
  document.addEventListener("submit", (event) => {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });
}

document.querySelectorAll("[data-live]").forEach(schedule);
confirmSubmits();
