/** Plain-text tables stay aligned whatever the cells hold: long text is cut with an ellipsis where a column says so. */
import t from 'tap';
import { alignedColumn, formatTable, truncated } from '../../toolkit/cli/table.js';

const LONG = 'a-forty-character-class-name-for-tables'; // 39 + 'x' below: exactly 40
const FORTY = `${LONG}x`;

t.test('truncated: at most maxWidth characters, the last an ellipsis when cut', async (t) => {
  t.equal(FORTY.length, 40);
  t.equal(truncated(FORTY, 32), 'a-forty-character-class-name-fo…');
  t.equal(truncated(FORTY, 40), FORTY, 'a name that fits is kept whole');
  t.equal(truncated('crème brûlée 🍮', 13), 'crème brûlée…', 'counted in characters, never splitting one');
});

t.test('formatTable sizes columns to content, and cuts those with maxWidth', async (t) => {
  t.equal(
    formatTable(
      [{ header: 'class', maxWidth: 20 }, { header: 'images', align: 'right' }, { header: 'note' }],
      [
        [FORTY, 1200, 'cut at 20'],
        ['cat', 7, 'short'],
      ],
    ),
    'class                 images  note\n' +
      'a-forty-character-c…   1,200  cut at 20\n' +
      'cat                        7  short\n',
  );
  t.equal(
    formatTable([{ header: 'class' }, { header: 'n', align: 'right' }], [[FORTY, 1]]),
    `class${' '.repeat(37)}n\n${FORTY}  1\n`,
    'without maxWidth the column grows to the longest cell',
  );
});

t.test('alignedColumn pads every entry to the longest after cutting', async (t) => {
  t.strictSame(alignedColumn(['cat', FORTY, 'dog'], 12), ['cat         ', 'a-forty-cha…', 'dog         ']);
  t.strictSame(alignedColumn(['cat', 'horse'], 32), ['cat  ', 'horse']);
});
