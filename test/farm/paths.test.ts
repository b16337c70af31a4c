/** Path mapping rules as a worker applies them to the paths a job names (companion/farm/paths.ts). */
import { describe, expect, it } from 'vitest';
import { isWindowsPath, mapPath } from '../../companion/farm/paths.ts';

const rules = [
  { from: '\\\\nas\\show', to: '/mnt/show' },
  { from: '/Volumes/show', to: '/mnt/show' },
  { from: 'S:\\', to: '/mnt/show' },
  { from: '\\\\nas\\show\\sh010\\plates', to: '/fast/sh010' },
];

describe('mapPath', () => {
  it('maps a Windows UNC path to a Linux mount, with forward slashes', () => {
    expect(mapPath('\\\\nas\\show\\sh020\\plate.mov', rules, '/')).toBe('/mnt/show/sh020/plate.mov');
  });

  it('compares Windows prefixes without regard to case or slash direction, as Windows does', () => {
    expect(mapPath('//NAS/Show/sh020/plate.mov', rules, '/')).toBe('/mnt/show/sh020/plate.mov');
    expect(mapPath('s:/sh020/plate.mov', rules, '/')).toBe('/mnt/show/sh020/plate.mov');
  });

  it('maps a macOS volume path; POSIX prefixes are case-sensitive', () => {
    expect(mapPath('/Volumes/show/sh020/plate.mov', rules, '/')).toBe('/mnt/show/sh020/plate.mov');
    expect(mapPath('/volumes/show/sh020/plate.mov', rules, '/')).toBe('/volumes/show/sh020/plate.mov');
  });

  it('the longest matching rule wins', () => {
    expect(mapPath('\\\\nas\\show\\sh010\\plates\\a.mov', rules, '/')).toBe('/fast/sh010/a.mov');
  });

  it('matches only at a folder boundary', () => {
    expect(mapPath('/Volumes/showreel/a.mov', rules, '/')).toBe('/Volumes/showreel/a.mov');
    expect(mapPath('\\\\nas\\shows\\a.mov', rules, '/')).toBe('\\\\nas\\shows\\a.mov');
  });

  it('maps Linux paths to a Windows worker with backslashes', () => {
    expect(mapPath('/mnt/show/sh020/plate.mov', [{ from: '/mnt/show', to: '\\\\nas\\show' }], '\\')).toBe('\\\\nas\\show\\sh020\\plate.mov');
  });

  it('leaves a path no rule matches unchanged, and maps a rule\'s own folder', () => {
    expect(mapPath('/srv/other/a.mov', rules, '/')).toBe('/srv/other/a.mov');
    expect(mapPath('/Volumes/show', rules, '/')).toBe('/mnt/show');
  });

  it('tells Windows paths from POSIX ones', () => {
    expect(isWindowsPath('C:\\Users\\ed')).toBe(true);
    expect(isWindowsPath('\\\\nas\\show')).toBe(true);
    expect(isWindowsPath('/mnt/show')).toBe(false);
  });
});
