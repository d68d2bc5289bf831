# Vivado's Tcl commands as stand-ins, to run the generated build scripts (vivado/build.tcl)
# and constraints in Debian's tclsh, where no Vivado is installed.
#
#   tclsh vivado_stub.tcl LOG MODULES SCRIPT [ARG ...]
#
# LOG: every Vivado command the script calls is written there, one line per call (a JSON
# array of strings: the command and its arguments, each as the script passed it). MODULES: a Tcl file that sets, for each VHDL entity
# the script may reference as a block design module, module_pins(<entity>) and
# module_intf(<entity>) and module_generics(<entity>) (its ports, interfaces and generics,
# read from the VHDL by the test).
# SCRIPT runs with argv = ARG ...
#
# What is checked, so that a script that passes here has no misspelt command, option, IP,
# property or pin:
# - a command that is neither Tcl's own nor listed below is an error (Tcl's `unknown`);
# - each command's options are those UG835 (Vivado Design Suite Tcl Command Reference,
#   2022.2) lists for it;
# - create_bd_cell takes only the IP listed below (their VLNV), set_property CONFIG.<name>
#   only the user parameters of that IP (AXI DMA 7.1: PG021; processing_system7 5.5:
#   the PCW_ names used in AMD's and PYNQ's board presets), get_bd_pins /
#   get_bd_intf_pins only the pins and interfaces each IP has (PG021's port table, the
#   processing system's and proc_sys_reset's ports) or the module has (its VHDL);
# - apply_bd_automation's rules, and the Master / Slave pins its -config names.
# The stand-ins return plausible values (a board part is "installed" unless the
# environment variable STUB_BOARDS lists others; a run ends at 100%); `file copy` is
# logged instead of copying.

lassign $argv log_path modules_path script_path
set argv [lrange $argv 3 end]
set argc [llength $argv]
set log [open $log_path w]
source $modules_path

# command -> the options UG835 documents for it (flags and options with a value alike)
set ::options {
  read_vhdl {-library -vhdl2008 -vhdl2019 -quiet -verbose}
  read_xdc {-cells -ref -quiet_diff -mode -unmanaged -quiet -verbose}
  synth_design {-name -part -constrset -top -include_dirs -generic -verilog_define
                -flatten_hierarchy -gated_clock_conversion -directive -rtl -bufg -no_lc
                -fanout_limit -shreg_min_size -mode -fsm_extraction -keep_equivalent_registers
                -resource_sharing -cascade_dsp -control_set_opt_threshold -max_bram
                -max_uram -max_dsp -max_bram_cascade_height -retiming -no_srlextract
                -incremental_mode -quiet -verbose}
  opt_design {-retarget -propconst -sweep -bram_power_opt -remap -directive -quiet -verbose}
  place_design {-directive -no_timing_driven -timing_summary -quiet -verbose}
  route_design {-directive -tns_cleanup -no_timing_driven -quiet -verbose}
  write_checkpoint {-force -cell -encrypt -incremental_synth -quiet -verbose}
  report_utilization {-file -append -name -pblocks -cells -hierarchical -quiet -verbose}
  report_timing_summary {-file -append -name -max_paths -delay_type -report_unconstrained
                         -warn_on_violation -quiet -verbose}
  create_project {-part -force -ip -rtl_kernel -quiet -verbose}
  get_board_parts {-regexp -nocase -filter -of_objects -latest_file_version
                   -latest_hw_revision -quiet -verbose}
  set_property {-dict -quiet -verbose}
  get_property {-min -max -quiet -verbose}
  current_project {-quiet -verbose}
  current_fileset {-constrset -simset -quiet -verbose}
  add_files {-fileset -of_objects -norecurse -copy_to -force -scan_for_includes -quiet -verbose}
  update_compile_order {-fileset -quiet -verbose}
  get_files {-regexp -nocase -filter -of_objects -compile_order -used_in -references -all
             -quiet -verbose}
  create_bd_design {-dir -cell -quiet -verbose}
  create_bd_cell {-vlnv -type -reference -revision -quiet -verbose}
  get_bd_cells {-regexp -hierarchical -filter -of_objects -quiet -verbose}
  get_bd_pins {-regexp -hierarchical -filter -of_objects -quiet -verbose}
  get_bd_intf_pins {-regexp -hierarchical -filter -of_objects -quiet -verbose}
  get_bd_intf_nets {-regexp -hierarchical -filter -of_objects -boundary_type -quiet -verbose}
  connect_bd_net {-net -boundary_type -quiet -verbose}
  connect_bd_intf_net {-intf_net -boundary_type -quiet -verbose}
  apply_bd_automation {-rule -dict -config -opts -quiet -verbose}
  assign_bd_address {-target_address_space -offset -range -export_to_file -quiet -verbose}
  regenerate_bd_layout {-hierarchy -layout_file -routing -quiet -verbose}
  validate_bd_design {-force -design -quiet -verbose}
  save_bd_design {-quiet -verbose}
  make_wrapper {-top -testbench -inst_template -fileset -import -force -quiet -verbose}
  launch_runs {-jobs -scripts_only -to_step -next_step -host -force -quiet -verbose}
  wait_on_runs {-timeout -exit_condition -quiet -verbose}
  get_runs {-regexp -nocase -filter -of_objects -quiet -verbose}
  open_run {-name -quiet -verbose}
  write_hw_platform {-fixed -force -include_bit -include_sim_content -minimal -file -hw
                     -hw_emu -quiet -verbose}
  create_clock {-period -name -waveform -add -quiet -verbose}
  get_ports {-regexp -nocase -filter -of_objects -scoped_to_current_instance -quiet -verbose}
}
# options that take no value (the others take the next word)
set ::flags {-vhdl2008 -vhdl2019 -quiet_diff -unmanaged -quiet -verbose -rtl -no_lc
             -keep_equivalent_registers -retarget -propconst -sweep -bram_power_opt -remap
             -no_timing_driven -timing_summary -tns_cleanup -force -encrypt -incremental_synth
             -append -pblocks -hierarchical -report_unconstrained -warn_on_violation -ip
             -rtl_kernel -regexp -nocase -latest_file_version -latest_hw_revision -min -max
             -constrset -simset -norecurse -scan_for_includes -compile_order -all -top
             -testbench -inst_template -import -scripts_only -fixed -include_bit
             -include_sim_content -minimal -hw -hw_emu -add -scoped_to_current_instance}

# IP the scripts may instantiate: VLNV -> {user parameters} {pins} {interfaces}
set ::ip {
  xilinx.com:ip:processing_system7:5.5 {
    {PCW_USE_S_AXI_HP0 PCW_USE_M_AXI_GP0 PCW_FPGA0_PERIPHERAL_FREQMHZ PCW_EN_CLK0_PORT
     PCW_EN_RST0_PORT PCW_USE_FABRIC_INTERRUPT PCW_IRQ_F2P_INTR}
    {FCLK_CLK0 FCLK_RESET0_N M_AXI_GP0_ACLK S_AXI_HP0_ACLK IRQ_F2P}
    {DDR FIXED_IO M_AXI_GP0 S_AXI_HP0}
  }
  xilinx.com:ip:axi_dma:7.1 {
    {c_include_sg c_sg_length_width c_m_axis_mm2s_tdata_width c_m_axi_mm2s_data_width
     c_s_axis_s2mm_tdata_width c_m_axi_s2mm_data_width c_mm2s_burst_size c_s2mm_burst_size
     c_include_mm2s c_include_s2mm c_include_mm2s_dre c_include_s2mm_dre c_addr_width
     c_sg_include_stscntrl_strm c_micro_dma}
    {s_axi_lite_aclk m_axi_mm2s_aclk m_axi_s2mm_aclk axi_resetn mm2s_introut s2mm_introut}
    {S_AXI_LITE M_AXI_MM2S M_AXI_S2MM M_AXIS_MM2S S_AXIS_S2MM}
  }
  xilinx.com:ip:blk_mem_gen:8.4 {
    {use_bram_block Memory_Type Write_Width_A Read_Width_A Write_Depth_A Enable_A
     Register_PortA_Output_of_Memory_Primitives Load_Init_File Coe_File Use_RSTA_Pin}
    {clka ena addra douta rsta}
    {BRAM_PORTA}
  }
  xilinx.com:ip:vio:3.0 {
    {C_NUM_PROBE_IN C_NUM_PROBE_OUT C_PROBE_IN0_WIDTH C_PROBE_IN1_WIDTH C_PROBE_IN2_WIDTH
     C_PROBE_OUT0_WIDTH C_PROBE_OUT1_WIDTH C_EN_PROBE_IN_ACTIVITY}
    {clk probe_in0 probe_in1 probe_in2 probe_out0 probe_out1}
    {}
  }
  xilinx.com:ip:proc_sys_reset:5.0 {
    {C_AUX_RESET_HIGH C_EXT_RESET_HIGH C_NUM_PERP_ARESETN}
    {slowest_sync_clk ext_reset_in aux_reset_in mb_debug_sys_rst dcm_locked mb_reset
     bus_struct_reset peripheral_reset interconnect_aresetn peripheral_aresetn}
    {}
  }
}
set ::rules {xilinx.com:bd_rule:processing_system7 xilinx.com:bd_rule:axi4
             xilinx.com:bd_rule:clkrst}

array set ::cells {}          ;# block design cell -> VLNV, or module:<entity>
set ::installed_boards [expr {[info exists env(STUB_BOARDS)] ? $env(STUB_BOARDS) : "*"}]

proc json_line {words} {
  set out {}
  foreach w $words {
    lappend out "\"[string map {\\ \\\\ \" \\\" \n \\n \t \\t} $w]\""
  }
  return "\[[join $out {, }]\]"
}

proc fail {msg} {
  puts stderr "vivado_stub: $msg"
  exit 2
}

# the options of a call, checked; returns the words that are not options
proc check_options {cmd words} {
  set allowed [dict get $::options $cmd]
  set rest {}
  for {set i 0} {$i < [llength $words]} {incr i} {
    set w [lindex $words $i]
    if {[string match -* $w] && ![string is double -strict $w]} {
      if {$w ni $allowed} { fail "$cmd: option $w is not documented for it (UG835)" }
      if {$w ni $::flags} { incr i }
    } else {
      lappend rest $w
    }
  }
  return $rest
}

proc option_value {words opt} {
  set i [lsearch -exact $words $opt]
  return [expr {$i < 0 ? "" : [lindex $words [expr {$i + 1}]]}]
}

# a cell's pins or interfaces (kind 1: pins, 2: interfaces)
proc cell_has {cell what kind} {
  if {![info exists ::cells($cell)]} { fail "no block design cell '$cell'" }
  set type $::cells($cell)
  if {[string match module:* $type]} {
    set entity [string range $type 7 end]
    set names [expr {$kind == 1 ? $::module_pins($entity) : $::module_intf($entity)}]
  } else {
    set names [lindex [dict get $::ip $type] $kind]
  }
  if {$what ni $names} {
    fail "cell $cell ($type) has no [expr {$kind == 1 ? {pin} : {interface}}] '$what'"
  }
}

proc check_pin_path {path kind} {
  set parts [split [string trimleft $path /] /]
  if {[llength $parts] != 2} { fail "pin '$path': expected <cell>/<pin>" }
  cell_has [lindex $parts 0] [lindex $parts 1] $kind
}

proc stub {cmd words} {
  puts $::log [json_line [list $cmd {*}$words]]
  set rest [check_options $cmd $words]
  switch -- $cmd {
    create_bd_cell {
      set name [lindex $rest end]
      if {[option_value $words -type] eq "module"} {
        set entity [option_value $words -reference]
        if {![info exists ::module_pins($entity)]} {
          fail "create_bd_cell: no module '$entity' among the design's entities"
        }
        set ::cells($name) module:$entity
      } else {
        set vlnv [option_value $words -vlnv]
        if {![dict exists $::ip $vlnv]} { fail "create_bd_cell: IP $vlnv is not in the list" }
        set ::cells($name) $vlnv
      }
      return $name
    }
    get_bd_cells {
      foreach c $rest { if {![info exists ::cells($c)]} { fail "no block design cell '$c'" } }
      return $rest
    }
    get_bd_pins { foreach p $rest { check_pin_path $p 1 }; return $rest }
    get_bd_intf_pins { foreach p $rest { check_pin_path $p 2 }; return $rest }
    get_bd_intf_nets { return [list net_of_[option_value $words -of_objects]] }
    set_property {
      if {[lsearch -exact $words -dict] >= 0} {
        set pairs [option_value $words -dict]
        set objects [lrange $rest 0 end]
      } else {
        set pairs [lrange $rest 0 1]
        set objects [lrange $rest 2 end]
      }
      foreach {key value} $pairs {
        if {[string match CONFIG.* $key]} {
          foreach obj $objects {
            if {![info exists ::cells($obj)]} { fail "set_property $key: no cell '$obj'" }
            set type $::cells($obj)
            if {[string match module:* $type]} {   ;# a module reference: its VHDL generics
              set params $::module_generics([string range $type 7 end])
            } else {
              set params [lindex [dict get $::ip $type] 0]
            }
            if {[string range $key 7 end] ni $params} {
              fail "set_property: $type has no user parameter [string range $key 7 end]"
            }
          }
        }
      }
      return ""
    }
    apply_bd_automation {
      set rule [option_value $words -rule]
      if {$rule ni $::rules} { fail "apply_bd_automation: rule '$rule' is not in the list" }
      set config [option_value $words -config]
      foreach key {Master Slave} {
        if {[dict exists $config $key] && [dict get $config $key] ni {Disable Auto}} {
          check_pin_path [dict get $config $key] 2
        }
      }
      return ""
    }
    get_board_parts {
      set pattern [lindex $rest 0]
      return [expr {$::installed_boards eq "*" || $pattern in $::installed_boards ? $pattern : ""}]
    }
    get_property {
      switch -- [lindex $rest 0] {
        PROGRESS { return "100%" }
        DIRECTORY { return /stub/run }
        default { return "" }
      }
    }
    get_files - get_runs - get_ports { return [lindex $rest end] }
    current_project { return stub_project }
    current_fileset { return sources_1 }
    default { return "" }
  }
}

dict for {cmd _} $::options {
  proc $cmd {args} "return \[stub $cmd \$args\]"
}

# `file copy` is logged, not done; every other `file` subcommand is Tcl's own
rename file tcl_file
proc file {sub args} {
  if {$sub eq "copy"} {
    puts $::log [json_line [list file copy {*}$args]]
    return ""
  }
  return [tcl_file $sub {*}$args]
}

proc unknown {args} {
  fail "'[lindex $args 0]' is neither a Tcl command nor a Vivado command in the list"
}

if {[catch {source $script_path} msg]} {
  puts stderr "vivado_stub: the script stopped: $msg"
  close $log
  exit 1
}
close $log
exit 0
