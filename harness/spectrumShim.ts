/**
 * Harness-only stand-ins for the Spectrum UXP field widgets the panel uses (`sp-textfield`,
 * `sp-textarea`, `sp-picker` + `sp-menu` / `sp-menu-item`, `sp-checkbox`, `sp-radio-group` +
 * `sp-radio`, `sp-slider`): UXP draws them
 * natively, a browser does not know them. Each is a custom element over a native control in its
 * (open) shadow root; the host element exposes what UXP's widget does (`value`, `checked`,
 * `selectedIndex`) and dispatches `input` / `change` itself, so the panel's ref listeners
 * (plugin/ui/spectrum.tsx) and the browser tests drive the same DOM. The plugin bundle has none
 * of this.
 */
const FIELD_CSS = `
:host { display: inline-block; vertical-align: middle; box-sizing: border-box; min-width: 48px; }
:host([disabled]) { opacity: 0.5; pointer-events: none; }
input, textarea, select {
  box-sizing: border-box; width: 100%; height: 100%; margin: 0; font: inherit; font-size: 12px;
  color: var(--uxp-host-text-color); background: var(--uxp-host-background-color);
  border: 1px solid var(--uxp-host-border-color); border-radius: 4px; padding: 3px 6px;
}
:host([invalid]) input, :host([invalid]) textarea { border-color: #e34850; }
textarea { resize: vertical; }
`;

/** Runs `f` for the event from the native control, stops it there, and fires it from the host. */
function redispatch(host: HTMLElement, inner: HTMLElement, types: readonly string[]) {
  for (const type of types)
    inner.addEventListener(type, (e) => {
      e.stopPropagation();
      host.dispatchEvent(new Event(type, { bubbles: true }));
    });
}

abstract class ShimField<C extends HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement> extends HTMLElement {
  protected control: C;
  constructor(control: C, extraCss = '') {
    super();
    this.control = control;
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = FIELD_CSS + extraCss;
    root.append(style, control);
  }
  attributeChangedCallback(name: string, _old: string | null, v: string | null) {
    if (name === 'value') {
      if (v !== null && this.control.value !== v) this.control.value = v;
      return;
    }
    if (v === null) this.control.removeAttribute(name);
    else this.control.setAttribute(name, name === 'disabled' ? '' : v);
  }
  get value(): string {
    return this.control.value;
  }
  set value(v: string) {
    if (this.control.value !== String(v)) this.control.value = String(v);
  }
  get disabled(): boolean {
    return this.hasAttribute('disabled');
  }
}

class ShimTextField extends ShimField<HTMLInputElement> {
  static get observedAttributes() {
    return ['value', 'disabled', 'placeholder', 'type', 'min', 'max'];
  }
  constructor() {
    super(document.createElement('input'));
    redispatch(this, this.control, ['input', 'change']);
  }
}

class ShimTextArea extends ShimField<HTMLTextAreaElement> {
  static get observedAttributes() {
    return ['value', 'disabled', 'placeholder'];
  }
  constructor() {
    super(document.createElement('textarea'), ':host { display: block; }');
    redispatch(this, this.control, ['input', 'change']);
  }
}

/** A picker: a native select whose options follow the light-DOM `sp-menu-item`s. */
class ShimPicker extends ShimField<HTMLSelectElement> {
  static get observedAttributes() {
    return ['disabled'];
  }
  private observer = new MutationObserver(() => this.sync());
  constructor() {
    super(document.createElement('select'));
    redispatch(this, this.control, ['change']);
    this.control.addEventListener('input', (e) => e.stopPropagation());
  }
  private items(): HTMLElement[] {
    return Array.from(this.querySelectorAll<HTMLElement>('sp-menu-item'));
  }
  private sync() {
    const items = this.items();
    const select = this.control;
    select.replaceChildren(
      ...items.map((it) => {
        const o = document.createElement('option');
        o.value = it.getAttribute('value') ?? it.textContent ?? '';
        o.textContent = it.textContent ?? '';
        return o;
      }),
    );
    const i = items.findIndex((it) => it.hasAttribute('selected'));
    select.selectedIndex = i;
  }
  connectedCallback() {
    this.sync();
    this.observer.observe(this, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['selected', 'value'] });
  }
  disconnectedCallback() {
    this.observer.disconnect();
  }
  get selectedIndex(): number {
    return this.control.selectedIndex;
  }
  override set value(v: string) {
    this.control.value = String(v);
  }
  override get value(): string {
    return this.control.value;
  }
}

/**
 * A labelled native toggle (checkbox or radio) in a shadow root, its label the slot; `checked`
 * and `disabled` mirrored from attributes, `checked` also a property. The native `input` event
 * stays inside; what `change` does is the subclass's.
 */
abstract class ShimToggle extends HTMLElement {
  static get observedAttributes() {
    return ['checked', 'disabled'];
  }
  protected box = document.createElement('input');
  constructor(type: 'checkbox' | 'radio', hostCss: string) {
    super();
    this.box.type = type;
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = `:host { ${hostCss} } :host([disabled]) { opacity: 0.5; pointer-events: none; }
label { display: inline-flex; align-items: center; gap: 4px; cursor: pointer; } input { margin: 0; }`;
    const label = document.createElement('label');
    label.append(this.box, document.createElement('slot'));
    root.append(style, label);
    this.box.addEventListener('input', (e) => e.stopPropagation());
  }
  attributeChangedCallback(name: string, _old: string | null, v: string | null) {
    if (name === 'checked') this.box.checked = v !== null;
    else this.box.disabled = v !== null;
  }
  get checked(): boolean {
    return this.box.checked;
  }
  set checked(v: boolean) {
    this.box.checked = Boolean(v);
  }
}

class ShimCheckbox extends ShimToggle {
  constructor() {
    super('checkbox', 'display: inline-block;');
    redispatch(this, this.box, ['change']);
  }
}

/**
 * A radio: a native radio in its shadow root, its label the slot. Picking it (the native radio's
 * `change`) checks it and tells its `sp-radio-group`, which fires `change` itself.
 */
class ShimRadio extends ShimToggle {
  constructor() {
    super('radio', 'display: inline-block; height: 18px; line-height: 18px; margin-right: 8px;');
    this.box.addEventListener('change', (e) => {
      e.stopPropagation();
      if (!this.box.checked) return;
      const group = this.closest('sp-radio-group') as ShimRadioGroup | null;
      if (group) group.pick(this.getAttribute('value') ?? '');
      else this.dispatchEvent(new Event('change', { bubbles: true }));
    });
  }
  get value(): string {
    return this.getAttribute('value') ?? '';
  }
}

/** A radio group: holds the chosen radio's value as `selected` / `value`; only it is checked. */
class ShimRadioGroup extends HTMLElement {
  static get observedAttributes() {
    return ['selected', 'value'];
  }
  private current = '';
  private observer = new MutationObserver(() => this.sync());
  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = ':host { display: inline-flex; flex-wrap: wrap; align-items: center; }';
    root.append(style, document.createElement('slot'));
  }
  private radios(): ShimRadio[] {
    return Array.from(this.querySelectorAll<ShimRadio>('sp-radio'));
  }
  private sync() {
    for (const r of this.radios()) r.checked = r.value === this.current;
  }
  /** A radio was picked by the user. */
  pick(v: string) {
    this.current = v;
    this.sync();
    this.dispatchEvent(new Event('change', { bubbles: true }));
  }
  connectedCallback() {
    this.sync();
    this.observer.observe(this, { subtree: true, childList: true, attributes: true, attributeFilter: ['checked', 'value'] });
  }
  disconnectedCallback() {
    this.observer.disconnect();
  }
  attributeChangedCallback(_name: string, _old: string | null, v: string | null) {
    if (v !== null && v !== this.current) {
      this.current = v;
      this.sync();
    }
  }
  get selected(): string {
    return this.current;
  }
  set selected(v: string) {
    this.current = String(v);
    this.sync();
  }
  get value(): string {
    return this.current;
  }
  set value(v: string) {
    this.selected = v;
  }
}

/** A slider: a native range in its shadow root (focus goes to it); `input` / `change` from the host. */
class ShimSlider extends HTMLElement {
  static get observedAttributes() {
    return ['min', 'max', 'step', 'value', 'disabled'];
  }
  private range = document.createElement('input');
  constructor() {
    super();
    this.range.type = 'range';
    const root = this.attachShadow({ mode: 'open', delegatesFocus: true });
    const style = document.createElement('style');
    style.textContent = ':host { display: inline-block; min-width: 80px; } :host([disabled]) { opacity: 0.5; pointer-events: none; } input { width: 100%; margin: 0; }';
    root.append(style, this.range);
    redispatch(this, this.range, ['input', 'change']);
  }
  attributeChangedCallback(name: string, _old: string | null, v: string | null) {
    if (name === 'value') {
      if (v !== null && this.range.value !== v) this.range.value = v;
    } else if (v === null) this.range.removeAttribute(name);
    else this.range.setAttribute(name, v);
  }
  get value(): string {
    return this.range.value;
  }
  set value(v: string) {
    if (this.range.value !== String(v)) this.range.value = String(v);
  }
  get min(): number {
    return Number(this.range.min);
  }
  set min(v: number) {
    this.range.min = String(v);
  }
  get max(): number {
    return Number(this.range.max);
  }
  set max(v: number) {
    this.range.max = String(v);
  }
}

export function defineSpectrumShim() {
  const defs: [string, CustomElementConstructor][] = [
    ['sp-textfield', ShimTextField],
    ['sp-textarea', ShimTextArea],
    ['sp-picker', ShimPicker],
    ['sp-checkbox', ShimCheckbox],
    ['sp-radio', ShimRadio],
    ['sp-radio-group', ShimRadioGroup],
    ['sp-slider', ShimSlider],
  ];
  for (const [name, ctor] of defs) if (!customElements.get(name)) customElements.define(name, ctor);
}
