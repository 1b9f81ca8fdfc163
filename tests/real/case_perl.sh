# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# perl: hashes, regular expressions, sprintf and sort in a loop; deterministic output (sorted keys).
# Debian links the interpreter into /usr/bin/perl itself and exports its Perl_* functions.
REQUIRES=(perl)
CMD=(perl -e '
my %h; my $t = 0;
for my $r (1 .. 5) {
  for my $i (1 .. 60000) {
    my $s = sprintf("k%05d-%s", $i % 5000, "ab" x ($i % 5));
    $h{$s} += length $s if $s =~ /^k(\d+)-(?:ab)+$/;
  }
  my @k = sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h;
  $t += $h{$k[0]};
}
print scalar(keys %h), " $t\n";')
EXPECT_PROGS=(perl)
EXPECT_FNS=('^perl:Perl_(runops_standard|pp_[a-z_]+)$' '^perl:Perl_(hv_common|sv_[a-z_]+|regexec_flags)$')
