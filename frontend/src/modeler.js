// BPMN modeler page: bpmn-js with the Camunda 7 properties panel, exposed as window.ReliefModeler.
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import './relief.css';

import Modeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdleDescriptors from 'camunda-bpmn-moddle/resources/camunda.json';
import zhCN from './zh-CN.js';

const PROBLEM_MARKER = 'relief-problem';

// bpmn-js's translate service, replaced as its i18n example shows: Chinese when the page is zh-CN.
function translateModule(table) {
  function translate(template, replacements) {
    const text = (table && table[template]) || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (replacements && key in replacements ? replacements[key] : `{${key}}`));
  }
  return { translate: ['value', translate] };
}

function resolveNode(target, what) {
  const node = typeof target === 'string' ? document.querySelector(target) : target;
  if (!node) {
    throw new Error(`ReliefModeler: ${what} container not found: ${target}`);
  }
  return node;
}

function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

const highlighted = new Set();

const ReliefModeler = {
  modeler: null,
  ready: false,

  /** Create the modeler in `canvas` with its panel in `properties`, import `xml`; resolves to the import warnings. */
  async init({ canvas = '#modeler-canvas', properties = '#modeler-properties', xml,
               locale = document.documentElement.lang } = {}) {
    if (this.modeler) {
      this.modeler.destroy();
    }
    this.ready = false;
    highlighted.clear();
    delete document.body.dataset.modelerReady;

    const modeler = new Modeler({
      container: resolveNode(canvas, 'canvas'),
      propertiesPanel: { parent: resolveNode(properties, 'properties') },
      additionalModules: [
        BpmnPropertiesPanelModule,
        BpmnPropertiesProviderModule,
        CamundaPlatformPropertiesProviderModule,
        // Keeps Camunda extension elements consistent while editing (as the properties panel docs advise).
        CamundaBehaviorsModule,
        translateModule(String(locale || '').toLowerCase().startsWith('zh') ? zhCN : null)
      ],
      moddleExtensions: { camunda: camundaModdleDescriptors }
    });
    this.modeler = modeler;

    modeler.on('commandStack.changed', () => emit('relief:modeler-changed', {}));

    let warnings;
    try {
      ({ warnings } = await modeler.importXML(xml));
    } catch (error) {
      emit('relief:modeler-error', { message: error.message, warnings: error.warnings || [] });
      throw error;
    }

    modeler.get('canvas').zoom('fit-viewport');
    this.ready = true;
    document.body.dataset.modelerReady = '1';
    emit('relief:modeler-ready', { warnings });
    return warnings;
  },

  /** Resolve to the current diagram as formatted BPMN XML. */
  async saveXML() {
    const { xml } = await this.modeler.saveXML({ format: true });
    return xml;
  },

  /** Select the element `id` and scroll it into view; false when the diagram has no such element. */
  select(id) {
    const element = this.modeler && this.modeler.get('elementRegistry').get(id);
    if (!element) {
      return false;
    }
    this.modeler.get('selection').select(element);
    this.modeler.get('canvas').scrollToElement(element);
    return true;
  },

  /** Mark the elements `ids` as having a problem; unknown ids are ignored. */
  highlight(ids) {
    const registry = this.modeler.get('elementRegistry');
    const canvas = this.modeler.get('canvas');
    for (const id of ids || []) {
      if (registry.get(id)) {
        canvas.addMarker(id, PROBLEM_MARKER);
        highlighted.add(id);
      }
    }
  },

  /** Remove every problem marker set by highlight(). */
  clearHighlights() {
    if (!this.modeler) {
      return;
    }
    const registry = this.modeler.get('elementRegistry');
    const canvas = this.modeler.get('canvas');
    for (const id of highlighted) {
      // An element may have been deleted (or renamed) since it was highlighted.
      if (registry.get(id)) {
        canvas.removeMarker(id, PROBLEM_MARKER);
      }
    }
    highlighted.clear();
  }
};

window.ReliefModeler = ReliefModeler;
