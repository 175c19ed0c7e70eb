// Decision table editor page: dmn-js (decision table view, Camunda moddle), exposed as window.ReliefDecisions.
import 'dmn-js/dist/assets/diagram-js.css';
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-js-literal-expression.css';
import 'dmn-js/dist/assets/dmn-js-drd.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn.css';
import './relief.css';

import DmnModeler from 'dmn-js/lib/Modeler';
import camundaModdle from 'camunda-dmn-moddle/resources/camunda.json';

function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

const ReliefDecisions = {
  modeler: null,

  /** Open `xml` in the decision table editor inside `container`; resolves to the import warnings. */
  async init({ container = '#decision-editor', xml } = {}) {
    if (this.modeler) {
      this.modeler.destroy();
    }
    delete document.body.dataset.decisionsReady;
    const node = typeof container === 'string' ? document.querySelector(container) : container;
    const modeler = new DmnModeler({
      container: node,
      moddleExtensions: { camunda: camundaModdle }
    });
    this.modeler = modeler;
    const { warnings } = await modeler.importXML(xml);
    // A file holds one decision with one table (the engine runs that): open its table view.
    const table = modeler.getViews().find((view) => view.type === 'decisionTable');
    if (table) {
      await modeler.open(table);
    }
    modeler.on('views.changed', () => emit('relief:decisions-changed', {}));
    const active = modeler.getActiveViewer();
    if (active) {
      active.on('elements.changed', () => emit('relief:decisions-changed', {}));
    }
    document.body.dataset.decisionsReady = '1';
    return warnings;
  },

  /** Resolve to the edited decision as formatted DMN XML. */
  async saveXML() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  }
};

window.ReliefDecisions = ReliefDecisions;
