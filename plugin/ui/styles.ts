/**
 * The panel's styles. Colours and type sizes come from UXP's theme variables (`--uxp-host-*`,
 * set by Premiere for its light and dark themes), so the panel follows the editor's theme; the
 * fallbacks are Premiere's dark theme. Signal colours switch with `prefers-color-scheme`, which
 * UXP sets to the host theme. The panel is its own scroll container, so every part (the queue
 * and its Place buttons included) is reachable when docked small. UXP's CSS subset: flex, no
 * grid, no transitions, no `font` shorthand, no `text-transform`.
 */
export const PANEL_CSS = `
html, body, #root { height: 100%; margin: 0; }
.rs-panel {
  --rs-bg: var(--uxp-host-background-color, #232323);
  --rs-text: var(--uxp-host-text-color, #d8d8d8);
  --rs-muted: var(--uxp-host-text-color-secondary, #9a9a9a);
  --rs-border: var(--uxp-host-border-color, #3e3e3e);
  --rs-link: var(--uxp-host-link-text-color, #4a9eff);
  --rs-hover: var(--uxp-host-widget-hover-background-color, rgba(128,128,128,0.15));
  --rs-positive: #2d9d78;
  --rs-notice: #e68619;
  --rs-negative: #e34850;
  --rs-accent: #378ef0;
  box-sizing: border-box; height: 100%; overflow-y: auto; overflow-x: hidden;
  padding: 8px 10px 16px; color: var(--rs-text); background: var(--rs-bg);
  font-family: sans-serif; font-size: var(--uxp-host-font-size, 12px);
}
@media (prefers-color-scheme: light), (prefers-color-scheme: lightest) {
  .rs-panel { --rs-positive: #268e6c; --rs-notice: #cb6f10; --rs-negative: #d7373f; --rs-accent: #1473e6; }
}
.rs-panel button, .rs-panel sp-button, .rs-panel sp-action-button { margin: 2px 4px 2px 0; }
.rs-panel button { font-size: var(--uxp-host-font-size, 12px); }
.rs-panel input, .rs-panel select, .rs-panel textarea, .rs-panel sp-textfield, .rs-panel sp-textarea, .rs-panel sp-picker { font-size: var(--uxp-host-font-size, 12px); }
.rs-panel textarea { width: 100%; box-sizing: border-box; }
.rs-panel sp-body, .rs-panel sp-detail, .rs-panel sp-heading { color: var(--rs-text); }
.rs-status { padding: 2px 0 6px; border-bottom: 1px solid var(--rs-border); margin-bottom: 6px; }
.rs-status .rs-row { flex-wrap: nowrap; }
.rs-strong { font-weight: bold; }
.rs-dot { display: inline-block; width: 8px; height: 8px; border-radius: 4px; margin-right: 6px; flex-shrink: 0; }
.rs-dot.rs-neutral { background: var(--rs-muted); }
.rs-dot.rs-notice { background: var(--rs-notice); }
.rs-dot.rs-positive { background: var(--rs-positive); }
.rs-dot.rs-negative { background: var(--rs-negative); }
.rs-muted, .rs-panel sp-detail.rs-muted { color: var(--rs-muted); }
.rs-small { font-size: var(--uxp-host-font-size-smaller, 11px); }
.rs-label { color: var(--uxp-host-label-text-color, var(--rs-muted)); margin-right: 6px; }
.rs-error { color: var(--rs-negative); }
.rs-invalid { border: 1px solid var(--rs-negative); }
.rs-field-problem { color: var(--rs-negative); font-size: var(--uxp-host-font-size-smaller, 11px); margin: 0 0 4px; }
.rs-row { display: flex; flex-direction: row; align-items: center; flex-wrap: wrap; margin: 3px 0; }
.rs-row label { margin-right: 8px; }
.rs-between { justify-content: space-between; }
.rs-block { display: block; margin: 4px 0; }
.rs-num { width: 64px; }
.rs-choices label { display: block; margin: 2px 0; }
.rs-choices sp-radio { display: block; margin: 2px 0; }
.rs-kinds { display: flex; flex-direction: row; flex-wrap: wrap; margin: 6px 0; }
.rs-kinds sp-action-button { border-bottom: 2px solid transparent; margin-right: 2px; }
.rs-kinds .rs-on { font-weight: bold; border-bottom: 2px solid var(--rs-accent); }
.rs-box { border: 1px solid var(--rs-border); padding: 6px; margin: 4px 0; }
.rs-link { background: none; border: none; color: var(--rs-link); padding: 0; cursor: pointer; }
.rs-jobs { list-style: none; padding: 0; margin: 0; }
.rs-job { border: 1px solid var(--rs-border); padding: 6px; margin: 4px 0; }
.rs-bar { height: 4px; background: var(--rs-border); margin: 4px 0; border-radius: 2px; }
.rs-fill { height: 4px; background: var(--rs-accent); border-radius: 2px; }
.rs-fill.rs-done { background: var(--rs-positive); }
.rs-fill.rs-failed { background: var(--rs-negative); }
.rs-fill.rs-cancelled { background: var(--rs-muted); }
.rs-fill.rs-upload { background: var(--rs-notice); }
.rs-kind { font-size: 10px; padding: 0 4px; border: 1px solid var(--rs-border); border-radius: 3px; color: var(--rs-muted); }
.rs-preview { display: block; max-width: 100%; height: auto; margin: 4px 0; border: 1px solid var(--rs-border); }
.rs-issues { margin: 2px 0; padding-left: 16px; }
.rs-common { border-top: 1px solid var(--rs-border); margin-top: 6px; padding-top: 4px; }
.rs-panel h3 { font-size: var(--uxp-host-font-size-larger, 13px); margin: 10px 0 4px; }
`;
