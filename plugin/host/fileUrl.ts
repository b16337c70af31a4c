/**
 * Native paths as the URLs UXP's file system takes (`localFileSystem.getEntryWithUrl`,
 * `createEntryWithUrl`) and `<img src>` shows. Adobe documents one form for both platforms:
 * "file:/Users/user/Documents/test.txt" and "file:/C:/Users/user/Documents/test.txt" — forward
 * slashes, one slash after "file:", a drive letter after it on Windows, no percent-escapes.
 * This is the only place that builds them.
 */
export function fileUrl(nativePath: string): string {
  let p = nativePath.replace(/\\/g, '/');
  if (p.startsWith('//')) p = p.replace(/^\/+/, '//'); // a UNC share: file://server/share/…
  else if (!p.startsWith('/')) p = `/${p}`;
  return `file:${p}`;
}
