// Instance and heat pages: show the definition in the bpmn-js viewer with the server's overlays.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('viewer-data').textContent);
  window.ReliefViewer.init({canvas: '#viewer-canvas', xml: data.xml, overlays: data.overlays});
})();
