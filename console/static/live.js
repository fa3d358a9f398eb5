// "Refreshed live": a page marked data-live reloads itself every N seconds, unless someone is typing.
(function () {
  var seconds = parseInt(document.body.getAttribute("data-live") || "0", 10);
  if (!seconds) return;
  setInterval(function () {
    var active = document.activeElement;
    if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA") && active.value) return;
    window.location.reload();
  }, seconds * 1000);
})();
