// accuguard dashboard: the operator's token and the rollout action buttons.
// The token is kept in sessionStorage (this tab only, gone when it closes), never in a
// URL or a cookie; it is sent only in the Authorization header of the admin API call.
(function () {
  "use strict";
  var KEY = "accuguard.token";
  var form = document.getElementById("token-form");
  var input = document.getElementById("token");
  var status = document.getElementById("token-status");
  var confirmBox = document.getElementById("confirm");
  var message = document.getElementById("action-message");
  var pending = null;

  function token() { return sessionStorage.getItem(KEY) || ""; }
  function showToken() {
    if (status) {
      status.textContent = token() ? "A token is set for this tab." : "No token set: read-only.";
    }
  }
  function say(text, ok) {
    message.textContent = text;
    message.className = "message " + (ok ? "ok" : "error");
    message.hidden = false;
  }

  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = input.value.trim();
      if (value) { sessionStorage.setItem(KEY, value); } else { sessionStorage.removeItem(KEY); }
      input.value = "";
      showToken();
    });
    document.getElementById("token-forget").addEventListener("click", function () {
      sessionStorage.removeItem(KEY);
      showToken();
    });
    showToken();
  }

  document.querySelectorAll("button[data-action]").forEach(function (button) {
    button.addEventListener("click", function () {
      pending = { action: button.dataset.action, deployment: button.dataset.deployment };
      document.getElementById("confirm-text").textContent =
        button.dataset.confirm || (pending.action + " the rollout of " + pending.deployment + "?");
      confirmBox.hidden = false;
      document.getElementById("confirm-reason").focus();
    });
  });

  function cancel() { pending = null; confirmBox.hidden = true; }
  var cancelButton = document.getElementById("confirm-cancel");
  if (cancelButton) { cancelButton.addEventListener("click", cancel); }

  var go = document.getElementById("confirm-go");
  if (go) {
    go.addEventListener("click", function () {
      if (!pending) { return; }
      var todo = pending;
      var reason = document.getElementById("confirm-reason").value;
      cancel();
      message.hidden = true;
      message.textContent = "";
      var headers = { "Content-Type": "application/json" };
      if (token()) { headers.Authorization = "Bearer " + token(); }
      fetch("/v1/rollouts/" + encodeURIComponent(todo.deployment) + "/" + todo.action, {
        method: "POST", headers: headers, body: JSON.stringify({ reason: reason }),
        credentials: "omit", cache: "no-store"
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          if (response.ok) {
            var state = body.state || (body.rolled_back_to_previous ? "rolled back" : "done");
            say(todo.action + ": done, the rollout is now " + state + ". Reloading...", true);
            setTimeout(function () { window.location.reload(); }, 800);
          } else {
            var error = (body && body.error) || {};
            say(todo.action + " refused (HTTP " + response.status + "): " +
                (error.message || response.statusText), false);
          }
        });
      }).catch(function (err) { say(todo.action + " failed: " + err, false); });
    });
  }
})();
