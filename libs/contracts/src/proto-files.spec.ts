import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { protoDir, SERVICE_PROTOS } from './proto-files';

function protoFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? protoFiles(join(dir, entry.name)) : entry.name.endsWith('.proto') ? [join(dir, entry.name)] : [],
  );
}

/** What gRPC loads at run time is what proto/ declares: no service contract is left out or misnamed. */
describe('SERVICE_PROTOS', () => {
  const root = protoDir();

  it('names each file with the package it declares', () => {
    for (const { package: name, file } of Object.values(SERVICE_PROTOS)) {
      expect({ file, package: /^package ([\w.]+);$/m.exec(readFileSync(join(root, file), 'utf8'))?.[1] }).toEqual({ file, package: name });
    }
  });

  it('lists every proto file that declares a service of ours (the vendored health service aside)', () => {
    const withService = protoFiles(root)
      .map((path) => relative(root, path))
      .filter((file) => !file.startsWith('grpc/health/') && /^service \w+ \{/m.test(readFileSync(join(root, file), 'utf8')));
    expect(withService.length).toBeGreaterThanOrEqual(5);
    expect(withService.sort()).toEqual(Object.values(SERVICE_PROTOS).map((entry) => entry.file).sort());
  });
});
