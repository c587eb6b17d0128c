import type { ComponentProps } from 'react';

type Props = Omit<ComponentProps<'input'>, 'type' | 'value' | 'onChange'> & {
  value: string;
  onValueChange: (value: string) => void;
};

/** A user id field: plain text the browser neither corrects nor capitalises, and offers like a username. */
export function UserIdInput({ value, onValueChange, ...rest }: Props) {
  return (
    <input
      type="text"
      value={value}
      onChange={(event) => onValueChange(event.target.value)}
      autoComplete="username"
      autoCapitalize="none"
      spellCheck={false}
      placeholder="e.g. alice"
      {...rest}
    />
  );
}
