# Section 1's chart (bench/results/forwarding.png). Called by
# bench/pgwbench/report.py with: thr (throughput data), cpu (gateway CPU data),
# out (the PNG) and ttl (the title) set on the command line.
set terminal pngcairo size 1800,620 font "DejaVu Sans,11"
set output out
set multiplot layout 1,3 title ttl font ",13"
set style fill solid 0.85 border -1
set grid ytics lc rgb "#dddddd"
set key top right
set xtics nomirror rotate by -20 scale 0
set ytics nomirror
set yrange [0:*]
set boxwidth 0.9

set title "Throughput (median of rounds, bars: min-max)"
set ylabel "Gbit/s at the receiver"
set style data histograms
set style histogram errorbars gap 1.5 lw 1
plot thr using 2:3:4:xtic(1) title "TCP, 1 stream" lc rgb "#1f77b4", \
     '' using 5:6:7 title "TCP, 8 streams" lc rgb "#ff7f0e", \
     '' using 8:9:10 title "UDP 1400 B, 1 Gbit/s offered" lc rgb "#2ca02c"

set title "Gateway CPU per GB forwarded (TCP, 1 stream)"
set ylabel "CPU seconds of the gateway's core per GB"
set style histogram clustered gap 1
set key off
plot cpu using 2:xtic(1) lc rgb "#9467bd", \
     '' using 0:2:(sprintf("%.2f", $2)) with labels offset 0,0.8 notitle

set title "Gateway CPU per 1,000 connections (HTTP, Connection: close)"
set ylabel "CPU ms of the gateway's core per 1,000 connections"
plot cpu using 3:xtic(1) lc rgb "#8c564b", \
     '' using 0:3:(sprintf("%.0f", $3)) with labels offset 0,0.8 notitle
unset multiplot
