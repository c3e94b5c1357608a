# Sourced by the bench scripts: free_port prints a port in 28000-28999 on which, and on the one
# after it (a member that finds its port taken moves to the next), no TCP socket is open.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$((28000 + RANDOM % 999))
    if ! ss -Htan "sport = :$p" | grep -q . && ! ss -Htan "sport = :$((p + 1))" | grep -q .; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port in 28000-28999" >&2
  return 1
}
