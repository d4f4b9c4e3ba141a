// Type-aware lint. Restricted imports keep the layers honest (arrows point down only):
//   cli/ stack/ -> edge/ cdc/ metrics/ -> compose/ (createCache) -> core/ -> ports/
//   adapters (l1/ redis/ bus/ db/) implement ports and know nothing of the core's algorithms.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const services = { group: ['ioredis', 'pg', '@electric-sql/*', 'node:http', 'node:https', 'node:net', 'http', 'https', 'net'],
  message: 'The core is pure: Redis, Postgres and HTTP live in adapters behind ports.' }

// The core receives its tiers as objects from the composition root: it imports only ports.
const coreImports = {
  patterns: [services, { group: ['../*', '!../ports', '!../ports/*'], message: 'The core imports only src/ports (and itself); the composition root (src/compose) builds the adapters.' }],
}
const portImports = {
  patterns: [services, { group: ['../*'], message: 'Ports are interfaces and the types they carry: they import nothing else.' }],
}
// Adapters may use the core's leaf utilities (errors, clock, serializers, option checks), not its algorithms.
const adapterImports = {
  patterns: [
    { group: ['../core/*', '../../core/*', '!../core/errors.js', '!../core/clock.js', '!../core/serializer.js', '!../core/logger.js',
      '!../core/duration.js', '!../core/call-options.js', '!../core/key.js', '!../../core/clock.js', '!../../core/errors.js'],
    message: 'Adapters implement ports; they do not reach into the core (only its errors, clock, serializers and option checks).' },
    { group: ['../compose/*', '../edge/*', '../cli/*', '../stack/*', '../../compose/*'], message: 'Adapters sit below the composition root and the outer layers.' },
  ],
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', coreImports] },
  },
  {
    files: ['src/ports/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', portImports] },
  },
  {
    files: ['src/l1/**/*.ts', 'src/redis/**/*.ts', 'src/bus/**/*.ts', 'src/db/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', adapterImports] },
  },
  {
    // ioredis is an optional peer dependency, loaded on first use by src/redis/ioredis.ts only:
    // importing tiercache must not load it.
    files: ['src/**/*.ts'],
    ignores: ['src/redis/ioredis.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { paths: [{ name: 'ioredis', allowTypeImports: true,
      message: 'Load ioredis through loadIoredis() (src/redis/ioredis.ts); type imports are fine.' }] }] },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'sim/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
)
