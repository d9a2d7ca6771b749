import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BadInputError } from '../../src/util/errors';
import { commandExists, isMountPoint, prepareMountDir, programOf, shellWords, validateCommands } from '../../engines/exec/options';
import { verdictOfExitCode } from '../../engines/exec/verdict';

describe('exec option validation', () => {
  test('finds the program of a shell command', () => {
    expect(shellWords(`FOO=1 "my prog" 'a b' c\\ d;e`)).toEqual(['FOO=1', 'my prog', 'a b', 'c d', ';', 'e']);
    expect(programOf('A=1 B=2 sqlite3 db "select 1"')).toBe('sqlite3');
    expect(programOf('   ')).toBeUndefined();
    expect(() => shellWords('echo "unterminated')).toThrow(BadInputError);
  });

  test('commands: builtins, PATH and paths are found; others are bad input naming the option', async () => {
    expect(await commandExists('true')).toBe(true);
    expect(await commandExists('sqlite3')).toBe(true);
    expect(await commandExists('/bin/sh')).toBe(true);
    expect(await commandExists('/etc/passwd')).toBe(false); // exists, not executable
    await expect(validateCommands({ start: 'true', load: 'no-such-program-tornlab --x', verify: 'true' })).rejects.toThrow(/--load: command not found: "no-such-program-tornlab"/);
    await expect(validateCommands({ start: '', load: 'true', verify: 'true' })).rejects.toThrow(/--start needs a command/);
    await expect(validateCommands({ start: 'true', load: 'true', verify: './missing/verify.sh' })).rejects.toThrow(BadInputError);
    await expect(validateCommands({ start: 'true', load: 'sleep 1', verify: 'test -e x' })).resolves.toBeUndefined();
  });

  test('mount directory: created when missing, refused when not empty or a mount point', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tornlab-mountdir-'));
    try {
      const fresh = path.join(tmp, 'new');
      expect(await prepareMountDir(fresh)).toEqual({ dir: fresh, created: true });
      expect(await prepareMountDir(fresh)).toEqual({ dir: fresh, created: false });
      fs.writeFileSync(path.join(fresh, 'x'), '');
      await expect(prepareMountDir(fresh)).rejects.toThrow(/is not empty \(x\)/);
      await expect(prepareMountDir(path.join(fresh, 'x'))).rejects.toThrow(/not a directory/);
      expect(await isMountPoint('/proc')).toBe(true);
      await expect(prepareMountDir('/proc')).rejects.toThrow(/already a mount point/);
      await expect(prepareMountDir('/')).rejects.toThrow(BadInputError);
      await expect(prepareMountDir(path.join(tmp, 'no', 'parent'))).rejects.toThrow(/cannot create it/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('verify exit codes name verdicts', () => {
    expect(verdictOfExitCode(0)).toBe('ok');
    expect(verdictOfExitCode(10)).toBe('torn-page-detected');
    expect(verdictOfExitCode(11)).toBe('silent-corruption');
    expect(verdictOfExitCode(12)).toBe('lost-commit');
    expect(verdictOfExitCode(13)).toBe('atomicity-violation');
    expect(verdictOfExitCode(14)).toBe('recovery-failed');
    expect(verdictOfExitCode(1)).toBe('failed');
  });
});
