// Lint: typescript-eslint's recommended rules, prettier for layout, and the project's own limits
// (docs/architecture.md): files of at most 300 lines, functions of about a screen, core kept pure.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import prettier from 'eslint-config-prettier'
import stylistic from '@stylistic/eslint-plugin'
import globals from 'globals'

export default tseslint.config(
  {ignores: ['dist/', 'node_modules/', 'out/', 'fixtures/', '.devrun/', '.cache/', 'scripts/device/*.mjs']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    plugins: {'@stylistic': stylistic},
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        {argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_'},
      ],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // long lines only in tables (comment rows starting with |) and URLs
      '@stylistic/max-len': ['error', {code: 140, ignoreUrls: true, ignoreRegExpLiterals: true, ignorePattern: '^\\s*(//|\\*)\\s*\\|'}],
      'max-lines': ['error', {max: 300}],
      'max-lines-per-function': ['error', {max: 60, skipBlankLines: true, skipComments: true}],
    },
  },
  {
    // the core is pure: plain functions over typed arrays, no files, no native runtime
    files: ['src/core/**/*.ts', 'src/parsers/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(node:|fs|path|os|onnxruntime-node|sharp|pngjs)',
              message: 'src/core and src/parsers stay pure (no I/O, no native runtime)',
            },
            {regex: '^\\.\\./\\.\\./(adapters|sam|pipeline|cli)/', message: 'the core imports nothing outside it'},
          ],
        },
      ],
    },
  },
  {
    // plain JavaScript helpers (bin/, test preloads) run on Node
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {globals: globals.node},
  },
  {
    // tests: describe blocks are long by nature, and they read records as loose JSON
    files: ['test/**/*.ts'],
    rules: {'max-lines-per-function': 'off', 'max-lines': 'off', '@typescript-eslint/no-explicit-any': 'off'},
  },
)
