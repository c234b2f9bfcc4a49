// The approvals inbox stays current without a reload: the owner event stream
// (/v1/owner/events/stream, authenticated by the session cookie) says when a request was
// filed or answered, and the list is then fetched again as HTML from the server, which
// renders and escapes it. Nothing else on the portal needs script.
(function () {
  "use strict";

  var inbox = document.querySelector("[data-live-fragment]");
  if (!inbox || !window.EventSource || !window.fetch) {
    return;
  }
  var status = document.querySelector("[data-testid=live-status]");
  var fragmentUrl = inbox.getAttribute("data-live-fragment");
  var streamUrl = inbox.getAttribute("data-live-stream");
  var busy = false;
  var again = false;

  function show(state, text) {
    if (status) {
      status.setAttribute("data-state", state);
      status.textContent = text;
    }
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(fragmentUrl, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
      redirect: "error"
    })
      .then(function (response) {
        if (response.status === 401) {
          // The session ended: the page itself goes to the login form.
          window.location.reload();
          return null;
        }
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) {
          inbox.innerHTML = html;
          inbox.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () {
        show("error", "Could not refresh: reload the page");
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var source = new EventSource(streamUrl);
  var connectedBefore = false;
  source.onopen = function () {
    show("open", "Live");
    // Anything that happened while the stream was down is not replayed: look again.
    if (connectedBefore) {
      refresh();
    }
    connectedBefore = true;
  };
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      show("closed", "Not live: reload the page");
      refresh();
    } else {
      show("reconnecting", "Reconnecting…");
    }
  };
  source.onmessage = function (event) {
    var message;
    try {
      message = JSON.parse(event.data);
    } catch (ignored) {
      return;
    }
    if (message.type === "approval_created" || message.type === "approval_resolved") {
      refresh();
    }
  };
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
