/**
 * The Reshoot panel. For now a placeholder that proves the build (React 18 + swc + webpack into
 * a UXP plugin folder); the panel itself — connection, the five kinds, mask editor, queue and
 * placement — is built on the companion service and plugin/host/.
 */
import { createRoot } from 'react-dom/client';

function Panel() {
  return (
    <main style={{ fontFamily: 'sans-serif', padding: 12 }}>
      <h2>Reshoot</h2>
      <p>Generative extend, fill, replace, generate and bridge — rendered by the local companion.</p>
      <p>This build is a placeholder: the full panel comes next. The companion service runs with <code>npm start</code>; jobs can be rendered from a terminal with <code>npx reshoot render job.json</code>.</p>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(<Panel />);
