/** The panel's few styles (UXP supports a CSS subset: no grid, simple flex, no custom properties needed). */
export const PANEL_CSS = `
.rs-panel { font-family: sans-serif; font-size: 12px; padding: 8px; color: #ddd; background: #232323; min-height: 100%; }
.rs-panel button { font-size: 12px; margin: 2px 4px 2px 0; }
.rs-panel input, .rs-panel select, .rs-panel textarea { font-size: 12px; }
.rs-status { padding: 4px 0 6px; border-bottom: 1px solid #444; margin-bottom: 6px; }
.rs-dot { display: inline-block; width: 8px; height: 8px; border-radius: 4px; margin-right: 6px; }
.rs-muted { color: #999; }
.rs-small { font-size: 11px; }
.rs-error { color: #ff7b6e; }
.rs-row { display: flex; flex-direction: row; align-items: center; flex-wrap: wrap; margin: 3px 0; }
.rs-row label { margin-right: 8px; }
.rs-between { justify-content: space-between; }
.rs-block { display: block; margin: 4px 0; }
.rs-block textarea { width: 100%; box-sizing: border-box; }
.rs-num { width: 64px; }
.rs-kinds { display: flex; flex-direction: row; margin: 6px 0; }
.rs-kinds .rs-on { font-weight: bold; border-bottom: 2px solid #4a9eff; }
.rs-box { border: 1px solid #444; padding: 6px; margin: 4px 0; }
.rs-link { background: none; border: none; color: #4a9eff; padding: 0; cursor: pointer; }
.rs-jobs { list-style: none; padding: 0; margin: 0; }
.rs-job { border: 1px solid #3a3a3a; padding: 6px; margin: 4px 0; }
.rs-bar { height: 6px; background: #3a3a3a; margin: 4px 0; }
.rs-fill { height: 6px; background: #4a9eff; }
.rs-fill.rs-done { background: #2d9d4f; }
.rs-fill.rs-failed { background: #c9453a; }
.rs-fill.rs-cancelled { background: #777; }
.rs-fill.rs-upload { background: #b68cff; }
.rs-kind { font-size: 10px; padding: 0 4px; border: 1px solid #555; border-radius: 3px; color: #bbb; }
.rs-preview { display: block; max-width: 100%; height: auto; margin: 4px 0; border: 1px solid #444; }
.rs-issues { margin: 2px 0; padding-left: 16px; }
.rs-common { border-top: 1px solid #3a3a3a; margin-top: 6px; padding-top: 4px; }
h3 { font-size: 13px; margin: 10px 0 4px; }
`;
