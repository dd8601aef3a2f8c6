package gen

// Reference tables. Every entry and weight is part of the output: changing
// one changes what every seed produces (see the package comment). Strings are
// in Unicode NFC (precomposed letters), as Vietnamese text usually is.

// centres holds a rough centre of each province in force since 2025, as
// {latitude, longitude} in millionths of a degree.
var centres = map[string][2]int64{
	"01": {21028000, 105854000}, "04": {22666000, 106258000}, "08": {22200000, 105200000},
	"11": {21386000, 103017000}, "12": {22396000, 103458000}, "14": {21327000, 103914000},
	"15": {22100000, 104400000}, "19": {21600000, 105850000}, "20": {21853000, 106761000},
	"22": {21006000, 107292000}, "24": {21250000, 106150000}, "25": {21200000, 105300000},
	"31": {20860000, 106550000}, "33": {20600000, 106200000}, "37": {20350000, 106000000},
	"38": {19807000, 105776000}, "40": {19000000, 105000000}, "42": {18340000, 105900000},
	"44": {17200000, 106600000}, "46": {16460000, 107590000}, "48": {15900000, 108000000},
	"51": {14900000, 108400000}, "52": {14000000, 108500000}, "56": {12000000, 109000000},
	"66": {12900000, 108500000}, "68": {11600000, 108000000}, "75": {11200000, 106900000},
	"79": {10780000, 106700000}, "80": {10800000, 106200000}, "82": {10400000, 105900000},
	"86": {10150000, 106200000}, "91": {10300000, 105000000}, "92": {9900000, 105800000},
	"96": {9200000, 105100000},
}

// familyNames are weighted in thousandths after the usual estimates of
// Vietnamese surname frequencies.
var familyNames = newWeighted(
	"Nguyễn", 380, "Trần", 110, "Lê", 95, "Phạm", 70, "Hoàng", 30, "Huỳnh", 21,
	"Phan", 45, "Vũ", 20, "Võ", 19, "Đặng", 21, "Bùi", 20, "Đỗ", 14, "Hồ", 13,
	"Ngô", 13, "Dương", 10, "Lý", 5, "Đinh", 9, "Trương", 9, "Lâm", 7, "Mai", 7,
	"Trịnh", 7, "Đào", 7, "Cao", 6, "Lương", 5, "Hà", 5, "Tạ", 4, "Đoàn", 6,
	"Vương", 3, "Kiều", 2, "Châu", 3, "Thái", 3, "La", 2, "Quách", 2, "Tô", 3,
	"Lưu", 3, "Triệu", 2,
)

var (
	middleMale    = newWeighted("Văn", 40, "Hữu", 10, "Đức", 12, "Minh", 12, "Quang", 10, "Công", 8, "Đình", 6, "Xuân", 5)
	middleFemale  = newWeighted("Thị", 45, "Ngọc", 14, "Thu", 10, "Thanh", 10, "Mai", 6, "Kim", 6, "Thùy", 5, "Phương", 4)
	middleUnisex  = newWeighted("Gia", 1, "Bảo", 1, "Khánh", 1, "Hoài", 1, "Thiên", 1, "An", 1, "Nhật", 1, "Hồng", 1)
	givenMale     = newWeighted(uniform("An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đông", "Đức", "Giang", "Hải", "Hiếu", "Hòa", "Hoàng", "Huy", "Hùng", "Khang", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Mạnh", "Minh", "Nam", "Nghĩa", "Phát", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh", "Toàn", "Trí", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ")...)
	givenFemale   = newWeighted(uniform("Anh", "Châu", "Chi", "Diệp", "Dung", "Giang", "Hà", "Hân", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Huyền", "Hương", "Lan", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh", "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy", "Trang", "Trâm", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến")...)
	secondMiddleF = newWeighted("Thu", 1, "Ngọc", 1, "Thanh", 1, "Mai", 1, "Kim", 1, "Thùy", 1, "Hồng", 1, "Minh", 1)
)

// ethnicities are weighted in thousandths after the 2019 census.
var ethnicities = newWeighted(
	"Kinh", 853, "Tày", 19, "Thái", 19, "Mường", 15, "H'Mông", 15, "Khmer", 14,
	"Nùng", 11, "Dao", 9, "Hoa", 8, "Gia Rai", 5, "Ê Đê", 4, "Ba Na", 3,
	"Xơ Đăng", 2, "Sán Chay", 2, "Cơ Ho", 2, "Chăm", 2, "Sán Dìu", 2, "Hrê", 2,
	"Mnông", 2, "Ra Glai", 2, "Thổ", 1, "Giáy", 1, "Khơ Mú", 1, "Co", 1,
	"Tà Ôi", 1, "Mạ", 1, "Gié Triêng", 1, "Stiêng", 1, "Bru-Vân Kiều", 1,
)

// phonePrefixes are the first three digits of mobile numbers in use
// (Viettel, VinaPhone, MobiFone, Vietnamobile, Gmobile).
var phonePrefixes = newWeighted(uniform(
	"032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
	"081", "082", "083", "084", "085", "088", "091", "094",
	"070", "076", "077", "078", "079", "089", "090", "093",
	"052", "056", "058", "092", "059", "099",
)...)

// Insurance object codes by stage of life, weighted in thousandths; the digit
// after the code is the benefit level.
var (
	insuranceWorking = newWeighted("DN", 450, "GD", 300, "HC", 120, "CN", 60, "TN", 30, "XK", 40)
	insuranceElderly = newWeighted("HT", 500, "GD", 300, "BT", 200)
	insuranceLevel   = map[string]byte{"TE": '1', "HS": '4', "SV": '4', "DN": '4', "GD": '4', "HC": '4', "CN": '2', "TN": '3', "XK": '4', "HT": '3', "BT": '2'}
)

// Business tables.
var (
	legalForms = newWeighted("llc", 600, "jsc", 250, "private", 80, "partnership", 20, "cooperative", 50)
	formPrefix = map[string]string{
		"llc":         "Công ty TNHH",
		"jsc":         "Công ty Cổ phần",
		"private":     "Doanh nghiệp tư nhân",
		"partnership": "Công ty Hợp danh",
		"cooperative": "Hợp tác xã",
	}
	brandSyllables = []string{
		"Minh", "Phát", "Hòa", "Bình", "Thành", "Công", "An", "Phú", "Hưng", "Thịnh",
		"Tân", "Đại", "Việt", "Kim", "Long", "Sao", "Hoàng", "Gia", "Nam", "Bắc",
		"Trường", "Sơn", "Hải", "Quang", "Tiến", "Đạt", "Lộc", "Thuận", "Phong", "Vạn",
		"Nhật", "Hồng", "Ánh", "Đông", "Tín", "Nghĩa", "Khang", "Thái", "Vinh", "Mỹ",
	}
	streets = []string{
		"Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Quang Trung",
		"Nguyễn Trãi", "Lê Duẩn", "Điện Biên Phủ", "Hùng Vương", "Phan Chu Trinh", "Nguyễn Thị Minh Khai",
		"Võ Văn Tần", "Cách Mạng Tháng Tám", "Trần Phú", "Bà Triệu", "Hoàng Diệu", "Lê Thánh Tông",
		"Nguyễn Văn Cừ", "Tôn Đức Thắng", "Phạm Văn Đồng", "Võ Nguyên Giáp", "Nguyễn Du", "Lê Lai",
		"Nguyễn Tất Thành", "Trường Chinh", "Lê Hồng Phong", "Ngô Quyền", "Phan Đình Phùng", "Chu Văn An",
	}
	wards = []string{
		"An Phú", "Tân Phong", "Phước Long", "Hòa Bình", "Thạnh Mỹ", "Tân Hưng", "Bình Minh", "Đông Hòa",
		"Long Hải", "Phú Lợi", "Tân An", "Hòa Khánh", "Vĩnh Ninh", "Trung Sơn", "Quang Trung", "Hưng Phú",
		"Tam Hiệp", "Phúc Thành", "Thống Nhất", "Tân Lập", "Hòa Lợi", "Phú Mỹ", "Đông Thành", "Hiệp Hòa",
	}
)

// sector is a word for a business name and the VSIC 2018 codes that go with it.
type sector struct {
	word string
	vsic []string
}

var sectors = []sector{
	{"Thương mại", []string{"4610", "4649", "4659", "4669", "4711", "4719"}},
	{"Xây dựng", []string{"4101", "4102", "4210", "4290", "4321", "4330"}},
	{"Dịch vụ", []string{"8299", "8121", "8211", "7730", "9631"}},
	{"Sản xuất", []string{"1079", "1629", "2220", "2599", "3100"}},
	{"Công nghệ", []string{"6201", "6202", "6209", "6311", "6312", "6190"}},
	{"Vận tải", []string{"4933", "4932", "5022", "5210", "5229"}},
	{"Du lịch", []string{"7911", "7912", "7990", "5510", "5610"}},
	{"Đầu tư", []string{"6619", "6810", "6820", "7020"}},
	{"Thực phẩm", []string{"1010", "1020", "1050", "1075", "4632"}},
	{"Nông nghiệp", []string{"0111", "0118", "0121", "0145", "0161"}},
	{"Thủy sản", []string{"0311", "0321", "0322", "1020", "4632"}},
	{"Dược phẩm", []string{"2100", "4649", "4772", "8620"}},
	{"Giáo dục", []string{"8510", "8521", "8559", "8560"}},
	{"Bất động sản", []string{"6810", "6820", "4101", "7110"}},
	{"Cơ khí", []string{"2511", "2592", "2593", "3312", "4520"}},
	{"Xuất nhập khẩu", []string{"4610", "4620", "4669", "5229"}},
	{"Điện tử", []string{"2610", "2640", "4652", "9512"}},
	{"May mặc", []string{"1410", "1430", "1313", "4641"}},
	{"Nội thất", []string{"3100", "1622", "4649", "4759"}},
	{"Môi trường", []string{"3811", "3821", "3900", "3700"}},
}

// Land parcel tables.
var (
	landUses = newWeighted("residential", 450, "agricultural", 350, "forest", 80, "industrial", 50, "public", 70)
	// areaRange is the range of each land use's area, in hundredths of m².
	areaRange = map[string][2]int64{
		"residential":  {3000, 50000},
		"agricultural": {20000, 2000000},
		"forest":       {100000, 5000000},
		"industrial":   {100000, 5000000},
		"public":       {10000, 1000000},
	}
	certificateSeries = []string{"CS", "CT", "CH", "CN", "DA", "DB", "DC", "BX", "BY", "BZ"}
)

// uniform turns names into name, 1 pairs for newWeighted.
func uniform(names ...string) []any {
	out := make([]any, 0, 2*len(names))
	for _, n := range names {
		out = append(out, n, 1)
	}
	return out
}
