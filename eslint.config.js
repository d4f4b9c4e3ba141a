// Type-aware lint. The core must not import adapters: a restricted-imports rule keeps it honest.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const adapterImports = {
  patterns: [
    { group: ['ioredis', 'pg', '@electric-sql/*', 'node:http', 'node:https', 'node:net', 'http', 'https', 'net'],
      message: 'The core is pure: Redis, Postgres and HTTP live in adapters behind ports.' },
    { group: ['../redis/*', '../edge/*', '../db/*', '../cdc/*', '../metrics/*', '../cli/*', '../stack/*'],
      message: 'The core must not import adapters (dynamic import() inside createCache is the one exception).' },
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
    files: ['src/core/**/*.ts', 'src/ports/**/*.ts', 'src/l1/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', adapterImports] },
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
