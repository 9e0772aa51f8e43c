// monostat status widget: <script src="https://status.example.com/widget.js" async></script>
// Shows a banner while something is wrong and follows changes live. No dependencies;
// styles live in a shadow root so the host page and the widget cannot restyle each other.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.WebSocket) return;
  var origin = new URL(script.src).origin;
  var wsUrl = origin.replace(/^http/, "ws") + "/graphql";
  var QUERY = "subscription { statusChanged { headline site { systemName } current { title } } }";
  var CALM = { OPERATIONAL: true, UP_WITH_NOTICE: true };
  var WORDS = {
    DOWN: ["is down", "#b91c1c"],
    PARTIALLY_UNAVAILABLE: ["is partially unavailable", "#c2410c"],
    MIGHT_HAVE_ISSUES: ["might be having issues", "#b45309"],
    KNOWN_ISSUE: ["has a significant known issue", "#b45309"],
    MAINTENANCE: ["is undergoing planned maintenance", "#1d4ed8"],
    RECOVERING: ["is recovering; we are monitoring", "#0e7490"]
  };

  var host = document.createElement("div");
  host.setAttribute("data-monostat-widget", "");
  var root = host.attachShadow ? host.attachShadow({ mode: "closed" }) : host;
  root.innerHTML =
    "<style>:host{all:initial}" +
    ".b{display:none;box-sizing:border-box;width:100%;padding:10px 16px;color:#fff;" +
    "font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;text-align:center}" +
    ".b a{color:#fff;text-decoration:underline;margin-left:.5em}</style>" +
    '<div class="b" role="status" aria-live="polite"><span></span><a target="_blank" rel="noopener">Status page</a></div>';
  var banner = root.querySelector(".b");
  var text = banner.querySelector("span");
  banner.querySelector("a").href = origin + "/";

  function show(status) {
    var words = WORDS[status.headline];
    if (CALM[status.headline] || !words) {
      banner.style.display = "none";
      return;
    }
    text.textContent = status.site.systemName + " " + words[0] + ".";
    banner.style.background = words[1];
    banner.style.display = "block";
  }

  var delay = 1000;
  function connect() {
    var socket = new WebSocket(wsUrl, "graphql-transport-ws");
    socket.onopen = function () {
      delay = 1000;
      socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
      socket.send(JSON.stringify({ id: "status", type: "subscribe", payload: { query: QUERY } }));
    };
    socket.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
      if (message.type === "next" && message.payload && message.payload.data) {
        show(message.payload.data.statusChanged);
      }
    };
    socket.onclose = function () {
      // Reconnect with back-off, up to a minute apart.
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 60000);
    };
  }

  function mount() {
    document.body.insertBefore(host, document.body.firstChild);
    connect();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
