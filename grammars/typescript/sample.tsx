// Sample for the TypeScript queries in a TSX file; annotations are checked by a test (see grammars/README.md).

interface Props {
//        ^ item.interface Props sig="interface Props" body=+0..+2
//        ^ def.interface Props
  label: string;
  // <- item.field label in=Props sig="label: string"
}

/** A button with a label. */
export function Button({ label }: Props) {
//              ^ item.function Button sig="function Button({ label }: Props)" body=+0..+2 doc="A button with a label."
//              ^ def.function Button
//                                ^ ref.type Props
  return <button onClick={() => track(label)}>{label}</button>;
//                              ^ ref.function track
}

export const Panel = ({ children }: { children: string }) => <div>{children}</div>;
//           ^ item.function Panel sig="const Panel = ({ children }: { children: string }) =>" body=+0..+0
//           ^ def.function Panel

class Store {
//    ^ item.class Store sig="class Store" body=+0..+3
  items: string[] = [];
  // <- item.field items in=Store sig="items: string[] = []"
  add(item: string) { this.items.push(item); }
  // <- item.method add in=Store sig="add(item: string)" body=+0..+0
  //                             ^ ref.method push
}
