// monostat status widget: <script src="https://status.example.com/widget.js" async></script>
// Shows a banner while something is wrong and follows changes live (WebSocket, or
// polling when WebSockets fail). No dependencies; styles live in a shadow root so the
// host page and the widget cannot restyle each other; never throws into the host page.
// Options: data-position="top|bottom", data-lang="en|de",
// data-show="down,partial,suspected,bug,maintenance,recovering" (what to show).
(function () {
  "use strict";
  try {
    var script = document.currentScript;
    if (!script) return;
    var origin = new URL(script.src).origin;
    var STATUS = "{ status { headline site { systemName } } }";
    var KINDS = {
      DOWN: ["down", "#b91c1c"],
      PARTIALLY_UNAVAILABLE: ["partial", "#c2410c"],
      MIGHT_HAVE_ISSUES: ["suspected", "#92400e"],
      KNOWN_ISSUE: ["bug", "#92400e"],
      MAINTENANCE: ["maintenance", "#1d4ed8"],
      RECOVERING: ["recovering", "#0e7490"]
    };
    var TEXT = {
      en: {
        down: "is down", partial: "is partially unavailable",
        suspected: "might be having issues", bug: "has a significant known issue",
        maintenance: "is undergoing planned maintenance",
        recovering: "is recovering; we are monitoring", link: "Status page"
      },
      de: {
        down: "ist nicht erreichbar", partial: "ist teilweise nicht verfügbar",
        suspected: "hat möglicherweise Probleme", bug: "hat einen bekannten Fehler",
        maintenance: "wird gerade gewartet",
        recovering: "erholt sich; wir beobachten die Lage", link: "Statusseite"
      }
    };
    var data = script.dataset || {};
    var lang = (data.lang || navigator.language || "en").slice(0, 2).toLowerCase();
    var words = TEXT[lang] || TEXT.en;
    var show = (data.show || "down,partial,suspected,bug,maintenance,recovering").split(",");
    var bottom = data.position === "bottom";

    var host = document.createElement("div");
    host.setAttribute("data-monostat-widget", "");
    var root = host.attachShadow ? host.attachShadow({ mode: "closed" }) : host;
    root.innerHTML =
      "<style>:host{all:initial}" +
      ".b{display:none;box-sizing:border-box;width:100%;padding:10px 16px;color:#fff;" +
      "font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;text-align:center" +
      (bottom ? ";position:fixed;left:0;bottom:0;z-index:2147483647" : "") + "}" +
      ".b a{color:#fff;text-decoration:underline;margin-left:.5em}</style>" +
      '<div class="b" role="status" aria-live="polite"><span></span><a target="_blank" rel="noopener"></a></div>';
    var banner = root.querySelector(".b");
    var link = banner.querySelector("a");
    link.href = origin + "/";
    link.textContent = words.link;

    var render = function (status) {
      var kind = status && KINDS[status.headline];
      if (!kind || show.indexOf(kind[0]) < 0) {
        banner.style.display = "none";
        return;
      }
      banner.querySelector("span").textContent = status.site.systemName + " " + words[kind[0]] + ".";
      banner.style.background = kind[1];
      banner.style.display = "block";
    };

    // Polling: when WebSockets fail (proxies, old browsers), ask every 30 s instead.
    var polling = null;
    var poll = function () {
      if (polling) return;
      var once = function () {
        fetch(origin + "/graphql?query=" + encodeURIComponent(STATUS))
          .then(function (r) { return r.json(); })
          .then(function (body) { if (body.data) render(body.data.status); })
          .catch(function () {});
      };
      once();
      polling = setInterval(once, 30000);
    };

    var delay = 1000;
    var connect = function () {
      if (!window.WebSocket) return poll();
      var socket = new WebSocket(origin.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
      socket.onopen = function () {
        delay = 1000;
        if (polling) { clearInterval(polling); polling = null; }
        socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
        socket.send(JSON.stringify({
          id: "s", type: "subscribe",
          payload: { query: "subscription " + STATUS.replace("status", "statusChanged") }
        }));
      };
      socket.onmessage = function (event) {
        var message = JSON.parse(event.data);
        if (message.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
        if (message.type === "next" && message.payload && message.payload.data) {
          render(message.payload.data.statusChanged);
        }
      };
      socket.onclose = function () {
        // Keep the banner current by polling while reconnecting with back-off.
        poll();
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 60000);
      };
    };

    var mount = function () {
      if (bottom) document.body.appendChild(host);
      else document.body.insertBefore(host, document.body.firstChild);
      connect();
    };
    if (document.body) mount();
    else document.addEventListener("DOMContentLoaded", mount);
  } catch (error) {
    // The widget must never break the page it is embedded in.
  }
})();
