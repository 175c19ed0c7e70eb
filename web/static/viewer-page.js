// Instance and heat pages: show the definition in the bpmn-js viewer with the server's overlays.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('viewer-data').textContent);
  var canvas = document.getElementById('viewer-canvas');
  window.ReliefViewer.init({canvas: canvas, xml: data.xml, overlays: data.overlays}).catch(function (err) {
    var note = document.createElement('p');
    note.className = 'flash error';
    note.textContent = (canvas.dataset.failed || 'BPMN') + (err && err.message ? '：' + err.message : '');
    canvas.appendChild(note);
  });
})();
